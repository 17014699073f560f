"""POST /v1/notifications, served as a plain ASGI endpoint (like /v1/stream).

The publish route is the per-notification hot path of every publisher: it skips Quart's
request context, routing and response objects. What it answers is unchanged: 401, 413,
422, 409, 429 and 503 bodies as documented in docs/api.md, 202 `{"ids": [...]}`; the HTTP
metrics, tracing, CORS and proxy middlewares wrap it as they wrap every route.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge

from .asgi_responses import Send, send_json
from .auth import AuthError, Identity, bearer_token
from .errors import error_body, unavailable
from .publishing import PublishInvalid, parse_publish_request
from .rate_limit import refusal
from .types import BrokerUnavailable, IdempotencyConflict, UnusableUserId

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)
PUBLISH_PATH = "/v1/notifications"


def publisher_identity(identity: Identity) -> str:
    """Who scopes idempotency keys, encoded unambiguously: the static publish token
    (it has no expiry) or a publisher JWT's `sub` (JWTs always carry `exp`)."""
    return json.dumps(["static"] if identity.expires_at is None else ["jwt", identity.subject])


class BodyTooLarge(Exception):
    pass


class PublishEndpoint:
    def __init__(self, services: Services, max_body: int) -> None:
        self._s = services
        self._max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        try:
            await self._publish(scope, receive, send)
        except Exception:
            log.exception("unhandled error")
            self._s.metrics.error("http")
            await send_json(send, 500, error_body("internal", "unexpected server error"))

    async def _publish(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        s = self._s
        authorization = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        try:
            publisher = s.verifier.publisher(bearer_token(authorization))
        except AuthError as exc:
            await send_json(send, 401, error_body("unauthorized", str(exc)), {"www-authenticate": "Bearer"})
            return
        decision = await s.rate_limits.allow_publish(publisher.subject)
        if not decision.allowed:
            s.metrics.publish_rejected("rate_limited")
            body, headers = refusal(decision, "publish requests from this publisher")
            await send_json(send, 429, body, headers)
            return
        try:
            data = await self._body(receive, length)
        except BodyTooLarge:
            await send_json(send, 413, error_body("request_entity_too_large", RequestEntityTooLarge.description))
            return
        if data is None:
            return  # the client went away
        settings = s.settings
        try:
            parsed = parse_publish_request(
                data,
                max_batch=settings.max_batch,
                max_payload_bytes=settings.max_payload_bytes,
                max_recipients=settings.max_recipients_per_request,
                max_data_depth=settings.max_data_depth,
            )
        except PublishInvalid as exc:
            s.metrics.publish_rejected("too_large" if exc.status == 413 else "invalid")
            await send_json(send, exc.status, exc.body())
            return
        try:
            ids = await s.worker.publish(publisher_identity(publisher), parsed.notifications)
        except IdempotencyConflict as exc:
            field = parsed.field(exc.index, "idempotency_key")
            await send_json(
                send,
                409,
                error_body(
                    "conflict",
                    [{"field": field, "message": "this idempotency key was used for a different notification"}],
                ),
            )
            return
        except UnusableUserId:
            await send_json(send, 422, error_body("invalid", [{"field": "user_id", "message": "not a valid user id"}]))
            return
        except BrokerUnavailable:
            await send_json(send, 503, *unavailable(s.settings.retry_ms))
            return
        await send_json(send, 202, {"ids": ids})

    async def _body(self, receive: Any, length: bytes | None) -> bytes | None:
        """The whole request body; BodyTooLarge past the limit (announced or read), None
        when the client disconnected."""
        if length is not None and length.isdigit() and int(length) > self._max_body:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
