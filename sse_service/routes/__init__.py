"""HTTP routes other than the stream (which is plain ASGI, see `sse_service.stream`)."""

from __future__ import annotations

from typing import Any

from quart import current_app, request

from ..auth import AuthError, Identity, bearer_token
from ..errors import error_body
from ..services import Services
from ..stream_cookie import STREAM_COOKIE


def services() -> Services:
    services_: Services = current_app.extensions["flagstream"]
    return services_


def error(
    status: int, code: str, detail: Any = None, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = error_body(code) if detail is None else error_body(code, detail)
    return body, status, headers or {}


class Unauthorized(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def request_token(allow_query: bool = False, allow_cookie: bool = False) -> str | None:
    query = request.args.get("access_token") if allow_query else None
    token = bearer_token(request.headers.get("Authorization"), query)
    if token is None and allow_cookie and services().settings.stream_cookie:
        token = request.cookies.get(STREAM_COOKIE) or None
    return token


def authenticate(kind: str, allow_query: bool = False, allow_cookie: bool = False) -> Identity:
    """`kind` is user, publisher or admin; raises Unauthorized (answered as 401 JSON).
    `allow_cookie`: the stream cookie too, when STREAM_COOKIE is on (user routes only)."""
    verifier = services().verifier
    check = {"user": verifier.user, "publisher": verifier.publisher, "admin": verifier.admin}[kind]
    try:
        return check(request_token(allow_query, allow_cookie))
    except AuthError as exc:
        raise Unauthorized(str(exc)) from None
