"""Who is asking: end users (JWT `sub`), publishers and admins (scope or static token)."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from .config import Settings
from .signing_keys import UnknownSigningKey, signing_keys


class AuthError(Exception):
    """The credentials are missing or invalid; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    expires_at: float | None
    scopes: frozenset[str]
    key_id: str | None = None  # the JWKS key that signed it (its streams end if the key is removed)


VERIFIED_TOKENS_KEPT = 50_000


class TokenVerifier:
    """Verifies bearer tokens according to the settings (HS256, PEM key, or JWKS)."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._publish_token = settings.publish_token
        self._admin_token = settings.admin_token
        self._verified: dict[bytes, Identity] = {}  # by the token's SHA-256 (see `user`)
        self._keys = signing_keys(settings)
        self._keys_generation = self._keys.generation

    async def start(self) -> None:
        """Load the JWKS (when configured) and keep it fresh while serving."""
        await self._keys.start()

    async def stop(self) -> None:
        await self._keys.stop()

    def trusts_key(self, key_id: str) -> bool:
        return self._keys.trusts(key_id)

    def when_keys_removed(self, callback: Callable[[frozenset[str]], None]) -> None:
        """Call ``callback`` with the kids of keys the JWKS no longer has."""
        self._keys.on_removed = callback

    def user(self, token: str | None) -> Identity:
        """A user token: a valid JWT with `sub` and `exp`.

        Verified tokens are remembered until they expire: a reconnect storm presents the
        same tokens again, and decoding one costs far more than the rest of a connect's
        checks (the signature was verified once; `exp` is checked on every use). The
        memory is dropped whenever the trusted keys change, so a key removed from the
        JWKS stops working at the next refresh. They are remembered by their SHA-256, not
        their text: an open stream's token is remembered all its life, and its text (~200 B)
        is most of what that costs.
        """
        if not token:
            raise AuthError("missing bearer token")
        if self._keys.generation != self._keys_generation:
            self._verified.clear()
            self._keys_generation = self._keys.generation
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        identity = self._verified.get(digest)
        if identity is not None:
            if identity.expires_at is not None and identity.expires_at > time.time():
                return identity
            del self._verified[digest]
        identity = self._decode(token, require=["sub", "exp"])
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[digest] = identity
        return identity

    def publisher(self, token: str | None) -> Identity:
        return self._with_scope(token, "publish", self._publish_token)

    def admin(self, token: str | None) -> Identity:
        return self._with_scope(token, "admin", self._admin_token)

    def _with_scope(self, token: str | None, scope: str, static: str) -> Identity:
        if not token:
            raise AuthError("missing bearer token")
        if static and hmac.compare_digest(token.encode(), static.encode()):
            return Identity(subject=f"static-{scope}", expires_at=None, scopes=frozenset({scope}))
        # `sub` names the publisher: idempotency keys are scoped to it, so it is required.
        identity = self._decode(token, require=["exp", "sub"])
        if scope not in identity.scopes:
            raise AuthError(f"token lacks the {scope!r} scope")
        return identity

    def _decode(self, token: str, require: list[str]) -> Identity:
        try:
            key, key_id = self._keys.key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._keys.algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": require, "verify_aud": self._audience is not None},
            )
        except UnknownSigningKey as exc:
            raise AuthError(str(exc)) from None
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        except (OverflowError, RecursionError):  # claims older PyJWT releases did not guard
            raise AuthError("invalid token: a claim is out of range") from None
        subject = claims.get("sub")
        if subject is not None and (not isinstance(subject, str) or not valid_user_id(subject)):
            raise AuthError("invalid token: sub must be a non-empty string without control characters")
        return Identity(
            subject=subject or "",
            expires_at=_expiry(claims),
            scopes=_scopes(claims.get("scope", claims.get("scp"))),
            key_id=key_id,
        )


def _expiry(claims: dict[str, object]) -> float | None:
    """`exp` as a float; PyJWT accepts any integer, but one past what a float holds is no date."""
    if "exp" not in claims:
        return None
    try:
        expires_at = float(claims["exp"])  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):
        raise AuthError("invalid token: exp out of range") from None
    if not math.isfinite(expires_at):
        raise AuthError("invalid token: exp out of range")
    return expires_at


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def valid_user_id(user_id: object) -> bool:
    return isinstance(user_id, str) and 0 < len(user_id) <= 256 and _CONTROL.search(user_id) is None


# One empty set for every token without scopes (most user tokens): each `frozenset()` is a new
# 216-byte object the collector walks, kept per remembered token.
NO_SCOPES: frozenset[str] = frozenset()


def _scopes(value: object) -> frozenset[str]:
    if isinstance(value, str):
        scopes = frozenset(value.split())
    elif isinstance(value, list):
        scopes = frozenset(str(v) for v in value)
    else:
        scopes = NO_SCOPES
    return scopes or NO_SCOPES


def bearer_token(authorization: str | None, query_token: str | None = None) -> str | None:
    """The token from `Authorization: Bearer …`, else from `access_token`."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return None
    return query_token or None


def mint_token(secret: str, subject: str, ttl: float = 3600, scope: str | None = None, **claims: object) -> str:
    """A HS256 token (dev tokens, tests, the load generator)."""
    now = int(time.time())
    payload: dict[str, object] = {"sub": subject, "iat": now, "exp": now + int(ttl), **claims}
    if scope:
        payload["scope"] = scope
    return jwt.encode(payload, secret, algorithm="HS256")
