"""The stream cookie: how a browser that cannot send `Authorization` (native EventSource
with `withCredentials`) authenticates the stream and the inbox.

The page, holding a user JWT from its own backend, calls `POST /v1/stream-session` with it
in `Authorization` (only there: never a form field or query parameter, so a cross-site form
cannot plant a session). The answer sets the same JWT as an HttpOnly cookie, once for the
stream's path and once for the inbox's, expiring with the token: the page's scripts never
read it again, every instance verifies it like a bearer token (signature, `exp`, `aud`,
`iss`), and a stream opened with it gets `reauth` when it expires. docs/security.md has
the threat model.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from werkzeug.http import parse_cookie

STREAM_COOKIE = "flagstream_stream"
COOKIE_PATHS = ("/v1/stream", "/v1/notifications")


@dataclass(frozen=True)
class CookieAttributes:
    secure: bool
    samesite: str  # "Lax", "Strict" or "None"


def cookie_attributes(samesite_setting: str, scheme: str, host: str, dev_mode: bool) -> CookieAttributes:
    """`Secure` always, except over plain http to a loopback host or in dev mode (where a
    browser would refuse to store it); `SameSite` as configured."""
    secure = scheme == "https" or not (dev_mode or is_loopback(host))
    return CookieAttributes(secure=secure, samesite=samesite_setting.capitalize())


def is_loopback(host: str) -> bool:
    """`host` as in a Host header: `127.0.0.1:8080`, `[::1]:8080`, `localhost`."""
    name = host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_token(cookie_header: str | None) -> str | None:
    """The token in the stream cookie of a raw `Cookie` header, if any."""
    if not cookie_header or STREAM_COOKIE not in cookie_header:
        return None
    return parse_cookie(cookie_header).get(STREAM_COOKIE) or None
