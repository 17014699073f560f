"""Development helpers for the demo page; registered only in dev mode (`make run`)."""

from __future__ import annotations

import json

from quart import Blueprint, request
from quart.typing import ResponseReturnValue

from ..auth import mint_token, valid_user_id
from ..types import Notification
from . import authenticate, error, services

blueprint = Blueprint("dev", __name__)


@blueprint.get("/dev/token")
async def dev_token() -> ResponseReturnValue:
    user_id = request.args.get("user_id", "")
    if not valid_user_id(user_id):
        return error(422, "invalid", [{"field": "user_id", "message": "expected a non-empty user id"}])
    return {"token": mint_token(services().settings.jwt_secret, user_id, ttl=8 * 3600), "user_id": user_id}


@blueprint.post("/dev/notify")
async def dev_notify() -> ResponseReturnValue:
    user = authenticate("user")
    body = await request.get_json(force=True, silent=True) or {}
    text = body.get("text", "Hello from flagstream") if isinstance(body, dict) else "Hello from flagstream"
    data = json.dumps({"text": str(text)[:500]})
    ids = await services().worker.publish("dev", [Notification((user.subject,), "notification", data)])
    return {"ids": ids}, 202
