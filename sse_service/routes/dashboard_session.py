"""The dashboard's session cookie: opened with an admin credential, never outliving it.

- Lifetime: until the admin token's `exp`, at most `MAX_SESSION_SECONDS` (a static admin
  token has no `exp`). The expiry is inside the signed value, so a copied cookie or a
  client that ignores Max-Age is refused all the same.
- `Secure` unless the page is served over plain http on a loopback host (local
  development): behind a TLS-terminating proxy the browser sees https.
- Signed with a key derived from the admin credentials: rotating ADMIN_TOKEN or the JWT
  key ends every session on every instance; a session opened with a token from a JWKS key
  ends when that key leaves the JWKS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import Request
from werkzeug.sansio.response import Response  # Quart's and werkzeug's (a redirect) alike

from ..auth import Identity
from ..security_settings import is_loopback

SESSION_COOKIE = "flagstream_dashboard"
COOKIE_PATH = "/dashboard"
MAX_SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class DashboardSession:
    subject: str
    expires_at: float


class DashboardSessions:
    cookie_name = SESSION_COOKIE

    def __init__(self, key: bytes, trusts_key: Callable[[str], bool]) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="flagstream-dashboard")
        self._trusts_key = trusts_key

    def open(self, response: Response, identity: Identity, request: Request) -> None:
        now = time.time()
        expires_at = min(identity.expires_at or float("inf"), now + MAX_SESSION_SECONDS)
        value = self._serializer.dumps({"sub": identity.subject, "exp": expires_at, "kid": identity.key_id})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=max(0, int(expires_at - now)),
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=needs_secure_cookie(request),
        )

    def current(self, request: Request) -> DashboardSession | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie, max_age=MAX_SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), (int, float)):
            return None  # a cookie from before sessions carried their expiry
        if payload["exp"] <= time.time():
            return None
        kid = payload.get("kid")
        if kid is not None and not (isinstance(kid, str) and self._trusts_key(kid)):
            return None  # opened with a key the JWKS no longer has
        return DashboardSession(str(payload.get("sub", "")), float(payload["exp"]))

    @staticmethod
    def close(response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=needs_secure_cookie(request)
        )


def needs_secure_cookie(request: Request) -> bool:
    """Secure, except for plain http on a loopback host. `request.scheme` becomes the
    client's scheme once forwarded headers from trusted proxies are honoured."""
    if request.scheme == "https":
        return True
    return not is_loopback(urlsplit(f"//{request.host}").hostname)
