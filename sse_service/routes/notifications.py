"""POST /v1/notifications (publishers) and GET /v1/notifications (a user's inbox)."""

from __future__ import annotations

import json

from quart import Blueprint, request

from ..auth import Identity
from ..client_input import parse_event_id, parse_limit
from ..publishing import PublishInvalid, parse_publish_request
from ..rate_limit import refusal
from ..types import EventId, IdempotencyConflict, PublishRefused, UnusableUserId, is_legacy_id
from . import authenticate, error, services

blueprint = Blueprint("notifications", __name__)
MAX_PAGE = 1000


def publisher_identity(identity: Identity) -> str:
    """Who scopes idempotency keys, encoded unambiguously: the static publish token
    (it has no expiry) or a publisher JWT's `sub` (JWTs always carry `exp`)."""
    return json.dumps(["static"] if identity.expires_at is None else ["jwt", identity.subject])


@blueprint.post("/v1/notifications")
async def publish():
    publisher = authenticate("publisher")
    s = services()
    decision = await s.rate_limits.allow_publish(publisher.subject)
    if not decision.allowed:
        s.metrics.publish_rejected("rate_limited")
        body, headers = refusal(decision, "publish requests from this publisher")
        return body, 429, headers
    data = await request.get_data(cache=False)
    try:
        parsed = parse_publish_request(data, max_batch=s.settings.max_batch, max_payload_bytes=s.settings.max_payload_bytes,
                                       max_recipients=s.settings.max_recipients_per_request,
                                       max_data_depth=s.settings.max_data_depth)
    except PublishInvalid as exc:
        s.metrics.publish_rejected("too_large" if exc.status == 413 else "invalid")
        return exc.body(), exc.status
    try:
        ids = await s.worker.publish(publisher_identity(publisher), parsed.notifications)
    except IdempotencyConflict as exc:
        field = parsed.field(exc.index, "idempotency_key")
        return error(409, "conflict", [{"field": field, "message": "this idempotency key was used for a different notification"}])
    except UnusableUserId:
        return error(422, "invalid", [{"field": "user_id", "message": "not a valid user id"}])
    except PublishRefused:
        return error(503, "unavailable", "the notification store is unavailable; retry later", {"Retry-After": "1"})
    return {"ids": ids}, 202


@blueprint.get("/v1/notifications")
async def inbox():
    user = authenticate("user", allow_query=True, allow_cookie=True)
    problems = []
    after: EventId | None = None
    legacy = False
    if request.args.get("after"):
        try:
            after = parse_event_id(request.args["after"])
        except ValueError:
            legacy = is_legacy_id(request.args["after"])
            if not legacy:
                problems.append({"field": "after", "message": "not an id this service issued"})
    limit = 100
    if "limit" in request.args:
        try:
            limit = parse_limit(request.args["limit"], MAX_PAGE)
        except ValueError as exc:
            problems.append({"field": "limit", "message": str(exc)})
    if problems:
        return error(422, "invalid", problems)
    try:
        page = await services().broker.history(user.subject, after, limit)
    except Exception:
        services().metrics.error("inbox")
        return error(503, "unavailable", "the notification store is unavailable; retry later", {"Retry-After": "1"})
    items = [event.as_inbox_item(event_id) for event, event_id in zip(page.events, page.ids)]
    body: dict[str, object] = {"notifications": items, "next": items[-1]["id"] if items else None}
    if page.reset or legacy:
        body["reset"] = True          # the cursor is gone (or from before epochs): the page starts at the oldest
    return body
