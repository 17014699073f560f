"""POST /v1/notifications (publishers) and GET /v1/notifications (a user's inbox)."""

from __future__ import annotations

from quart import Blueprint, request

from ..client_input import parse_event_id, parse_limit
from ..publishing import PublishInvalid, parse_publish
from ..rate_limit import refusal
from ..types import PublishRefused
from . import authenticate, error, services

blueprint = Blueprint("notifications", __name__)
MAX_PAGE = 1000


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
        notifications = parse_publish(data, max_batch=s.settings.max_batch, max_payload_bytes=s.settings.max_payload_bytes,
                                      max_data_depth=s.settings.max_data_depth)
    except PublishInvalid as exc:
        s.metrics.publish_rejected("too_large" if exc.status == 413 else "invalid")
        return exc.body(), exc.status
    try:
        ids = await s.worker.publish(publisher.subject, notifications)
    except PublishRefused as exc:
        return error(503, "unavailable", str(exc), {"Retry-After": "1"})
    return {"ids": ids}, 202


@blueprint.get("/v1/notifications")
async def inbox():
    user = authenticate("user", allow_query=True, allow_cookie=True)
    problems = []
    after = None
    if request.args.get("after"):
        try:
            after = parse_event_id(request.args["after"])
        except ValueError:
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
    except Exception as exc:
        services().metrics.error("inbox")
        return error(503, "unavailable", f"store unavailable: {type(exc).__name__}", {"Retry-After": "1"})
    items = [event.as_inbox_item() for event in page.events]
    return {"notifications": items, "next": items[-1]["id"] if items else None}
