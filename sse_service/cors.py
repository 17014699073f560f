"""Cross-origin browsers: an exact-origin allowlist for the user routes (CORS_ORIGINS).

A page on `https://app.example.com` calling flagstream on `https://rt.example.com` sends
`Authorization` (a non-safelisted header), so the browser asks first with a preflight
`OPTIONS`; this middleware answers it, and decorates the real answers with
`Access-Control-Allow-Origin: <that origin>` (never `*`), `Vary: Origin` and the headers
the client must read (`Retry-After`). Credentials are allowed only when the stream cookie
is on. A request that carries the stream cookie from an origin that is neither allowed nor
flagstream's own is refused outright (403): the cookie must not work for other sites.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .asgi_responses import Send, send_json
from .errors import error_body
from .stream_cookie import STREAM_COOKIE

# The routes a browser calls: the stream, the inbox, and the cookie exchange.
CORS_METHODS = {
    "/v1/stream": "GET",
    "/v1/notifications": "GET",
    "/v1/stream-session": "POST, DELETE",
}
ALLOWED_HEADERS = "Authorization, Last-Event-ID, Accept, Content-Type, Cache-Control"
EXPOSED_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE = "600"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origins(text: str) -> frozenset[str]:
    """`https://a.example, http://127.0.0.1:3000` → the exact origins, as browsers send them."""
    origins = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "*" in item:
            raise ValueError(f"exact origins only, no wildcard: {item!r}")
        parts = urlsplit(item)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{item!r} has a bad port") from None
        if (
            parts.scheme not in _DEFAULT_PORTS
            or not parts.hostname
            or parts.username
            or parts.password
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(f"{item!r} is not an origin like https://app.example.com (scheme, host, optional port)")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        origin = f"{parts.scheme}://{host}"
        if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
            origin += f":{port}"
        origins.add(origin)
    return frozenset(origins)


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]
    credentials: bool  # true when the stream cookie is on


class CorsMiddleware:
    """Plain ASGI, outside Quart, so the stream endpoint (also plain ASGI) gets the same headers."""

    def __init__(self, app: Any, policy: CorsPolicy) -> None:
        self._app = app
        self._policy = policy

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Send) -> None:
        methods = CORS_METHODS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if methods is None:
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self._policy.origins
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, allowed, methods)
            return
        if origin is not None and not allowed and _carries_cookie(headers) and origin != _own_origin(scope, headers):
            await send_json(send, 403, error_body("origin_not_allowed", "this origin is not in CORS_ORIGINS"), {"vary": "Origin"})
            return
        extra = [(b"vary", b"Origin")]  # even without Origin: a cache must not serve one origin's answer to another
        if allowed:
            extra += self._allow(origin)  # type: ignore[arg-type]
            extra.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self._app(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, origin: str | None, allowed: bool, methods: str) -> None:
        if not allowed:
            await send_json(send, 403, error_body("origin_not_allowed", "this origin is not in CORS_ORIGINS"), {"vary": "Origin"})
            return
        headers = [
            (b"vary", b"Origin"),
            *self._allow(origin),  # type: ignore[arg-type]
            (b"access-control-allow-methods", methods.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _allow(self, origin: str) -> list[tuple[bytes, bytes]]:
        allow = [(b"access-control-allow-origin", origin.encode("latin-1"))]
        if self._policy.credentials:
            allow.append((b"access-control-allow-credentials", b"true"))
        return allow


def _headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _carries_cookie(headers: dict[str, str]) -> bool:
    return f"{STREAM_COOKIE}=" in headers.get("cookie", "")


def _own_origin(scope: MutableMapping[str, Any], headers: dict[str, str]) -> str | None:
    host = headers.get("host")
    return f"{scope.get('scheme', 'http')}://{host}" if host else None
