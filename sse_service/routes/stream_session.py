"""POST /v1/stream-session: a user JWT in `Authorization` → the stream cookie (see
`sse_service.stream_cookie`); DELETE /v1/stream-session clears it (sign-out)."""

from __future__ import annotations

import time

from quart import Blueprint, Response, jsonify, request
from quart.typing import ResponseReturnValue

from ..auth import AuthError, bearer_token
from ..stream_cookie import COOKIE_PATHS, STREAM_COOKIE, cookie_attributes
from ..stream_encoding import rfc3339
from . import error, services

blueprint = Blueprint("stream_session", __name__)
NO_STORE = {"Cache-Control": "no-store"}


@blueprint.post("/v1/stream-session")
async def open_stream_session() -> ResponseReturnValue:
    s = services()
    if not s.settings.stream_cookie:
        return error(404, "not_found", "stream cookies are off (FLAGSTREAM_STREAM_COOKIE)")
    # The header only: a cross-site form can send neither it nor a preflighted request.
    token = bearer_token(request.headers.get("Authorization"))
    try:
        identity = s.verifier.user(token)
    except AuthError as exc:
        return error(401, "unauthorized", str(exc), {"WWW-Authenticate": "Bearer"})
    assert identity.expires_at is not None  # user tokens require `exp`
    max_age = int(identity.expires_at - time.time())
    if max_age < 1:
        return error(401, "unauthorized", "token expires within a second")
    response = jsonify({"user_id": identity.subject, "expires_at": rfc3339(identity.expires_at), "paths": list(COOKIE_PATHS)})
    _set_cookies(response, token or "", max_age)
    response.headers.update(NO_STORE)
    return response


@blueprint.delete("/v1/stream-session")
async def close_stream_session() -> ResponseReturnValue:
    response = Response(status=204, headers=NO_STORE)
    _set_cookies(response, "", 0)
    return response


def _set_cookies(response: Response, value: str, max_age: int) -> None:
    s = services()
    attributes = cookie_attributes(s.settings.stream_cookie_samesite, request.scheme, request.host, s.settings.dev_mode)
    for path in COOKIE_PATHS:
        response.set_cookie(
            STREAM_COOKIE,
            value,
            max_age=max_age,
            expires=time.time() + max_age if max_age else 0,
            path=path,
            httponly=True,
            secure=attributes.secure,
            samesite=attributes.samesite,
        )
