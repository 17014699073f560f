"""GET /v1/notifications (a user's inbox). POST (publishers) is plain ASGI: see
`sse_service.publish_endpoint`."""

from __future__ import annotations

from quart import Blueprint, request
from quart.typing import ResponseReturnValue

from ..client_input import parse_event_id, parse_limit
from ..errors import STORE_UNAVAILABLE, retry_after
from ..types import BrokerUnavailable, EventId, is_legacy_id
from . import authenticate, error, services

blueprint = Blueprint("notifications", __name__)
MAX_PAGE = 1000


@blueprint.get("/v1/notifications")
async def inbox() -> ResponseReturnValue:
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
    except BrokerUnavailable:
        services().metrics.error("inbox")
        return error(503, "unavailable", STORE_UNAVAILABLE, retry_after(services().settings.retry_ms / 1000))
    items = [event.as_inbox_item(event_id) for event, event_id in zip(page.events, page.ids)]
    body: dict[str, object] = {"notifications": items, "next": items[-1]["id"] if items else None}
    if page.reset or legacy:
        body["reset"] = True  # the cursor is gone (or from before epochs): the page starts at the oldest
    return body
