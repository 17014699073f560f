"""Whether a GET /v1/stream opens, decided from the request's headers and query alone.

The stream's protocol apart from its I/O: `admit` checks the token, the rollout, the rate,
the limits and `Last-Event-ID`, in the documented order, and answers `Refuse(status, body,
headers)` or `Open(connection, …)`; it never touches a socket (stream.py sends the answer
and serves the connection). Unit tested in tests/sse_service/test_stream_admission.py.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .auth import AuthError, bearer_token
from .client_input import parse_event_id
from .connection import Connection
from .errors import error_body, retry_after, unavailable
from .rate_limit import refusal as rate_limited
from .stream_cookie import cookie_token
from .stream_tuning import StreamTuning
from .types import BrokerUnavailable, EventId, is_legacy_id

if TYPE_CHECKING:
    from .services import Services

RESET = "reset"  # `after` for an id of the scheme before epochs: answered with `reset`, never misread


@dataclass(frozen=True, slots=True)
class Refuse:
    status: int
    body: Mapping[str, Any] | None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Open:
    connection: Connection
    after: EventId | str | None  # where to resume: an id, RESET, or None for a fresh stream
    evicted: tuple[str, ...]  # this user's older streams that made room for this one


async def admit(s: Services, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Refuse | Open:
    """`headers` with lower-case names; `query` as `urllib.parse.parse_qs` gives it."""
    token = bearer_token(headers.get("authorization"), _first(query, "access_token"))
    if token is None and s.settings.stream_cookie:
        token = cookie_token(headers.get("cookie"))
    try:
        identity = s.verifier.user(token)
    except AuthError as exc:
        s.metrics.connection_rejected("unauthorized")
        return Refuse(401, error_body("unauthorized", str(exc)), {"www-authenticate": "Bearer"})
    user_id = identity.subject
    flags = s.flags.decide(user_id)  # the rollout and the user's knobs, in one question
    if not flags.enabled:
        s.metrics.connection_rejected("not_in_rollout")
        return Refuse(204, None)
    decision = await s.rate_limits.allow_stream(user_id)
    if not decision.allowed:
        s.metrics.connection_rejected("rate_limited")
        body, refusal_headers = rate_limited(decision, "stream attempts for this user")
        return Refuse(429, body, refusal_headers)
    wait = retry_after(s.settings.retry_ms / 1000)
    refusal = s.hub.refusal()
    if refusal is not None:
        s.metrics.connection_rejected(refusal)
        return Refuse(503, error_body(refusal), wait)
    last_id_text = headers.get("last-event-id") or _first(query, "last_event_id")
    after: EventId | str | None = None
    if last_id_text:
        try:
            after = parse_event_id(last_id_text)
        except ValueError:
            if not is_legacy_id(last_id_text):
                problem = {"field": "Last-Event-ID", "message": "not an event id issued by this service"}
                return Refuse(422, error_body("invalid", [problem]))
            after = RESET
    tuning = StreamTuning.resolve(s.settings, flags.knobs)
    connection = Connection(
        user_id,
        queue_size=s.settings.queue_size,
        max_bytes=s.settings.queue_max_bytes,
        ping_interval=tuning.ping_interval,
        batch_window=tuning.batch_window,
        collapse_window=tuning.collapse_window,
        expires_at=identity.expires_at,
        key_id=identity.key_id,
        now=time.time(),
    )
    per_user = tuning.max_connections_per_user
    try:
        lease = await s.broker.acquire_lease(user_id, connection.id, per_user, s.settings.user_limit_policy == "evict_oldest")
    except BrokerUnavailable:  # not this client's fault
        s.metrics.error("lease")
        body, wait = unavailable(s.settings.retry_ms)
        return Refuse(503, body, wait)
    if not lease.granted:
        s.metrics.connection_rejected("user_limit")
        return Refuse(429, error_body("user_limit", f"at most {per_user} streams per user"), wait)
    return Open(connection, after, lease.evicted)


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None
