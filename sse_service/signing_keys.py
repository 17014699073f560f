"""Where the key that verifies a token comes from: a fixed key (HS256 secret, PEM), or a JWKS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import jwt

from .config import ConfigError, Settings


class UnknownSigningKey(Exception):
    """The token names a key the verifier does not have (the message is safe to return)."""


class SigningKeys(Protocol):
    algorithms: list[str]
    on_removed: Callable[[frozenset[str]], None] | None

    @property
    def generation(self) -> int:
        """Changes whenever the set of trusted keys changes (the verified-token memory is then dropped)."""

    def key_for(self, token: str) -> tuple[Any, str | None]:
        """The key to verify ``token`` with and its id; never does I/O. Raises UnknownSigningKey."""

    def trusts(self, key_id: str) -> bool:
        """Whether the key with this id is still trusted."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class FixedKey:
    """An HS256 secret or a PEM public key, known from the settings."""

    generation = 0

    def __init__(self, key: Any, algorithms: list[str]) -> None:
        self._key = key
        self.algorithms = algorithms
        self.on_removed: Callable[[frozenset[str]], None] | None = None  # a fixed key is never removed

    def key_for(self, token: str) -> tuple[Any, str | None]:
        if self._key is None:
            raise UnknownSigningKey("no JWT key configured")
        return self._key, None

    def trusts(self, key_id: str) -> bool:
        return False  # a fixed key has no id: nothing was signed "by id"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def signing_keys(settings: Settings) -> SigningKeys:
    if settings.jwks_url:
        from .jwks import JwksKeys

        return JwksKeys(settings.jwks_url, settings.jwks_refresh_interval)
    if settings.jwt_public_key:
        return FixedKey(load_public_key(settings.jwt_public_key), ["RS256", "ES256"])
    return FixedKey(settings.jwt_secret or None, ["HS256"])


def load_public_key(value: str) -> Any:
    """PEM text, or the path of a PEM file; a bad one is a configuration error."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        pem = value if "-----BEGIN" in value else Path(value).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a PEM file"
        raise ConfigError(f"FLAGSTREAM_JWT_PUBLIC_KEY: cannot read {value}: {reason}") from None
    try:
        return load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ConfigError("FLAGSTREAM_JWT_PUBLIC_KEY: not a PEM public key (RSA or EC)") from None


def unverified_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise UnknownSigningKey(f"invalid token: {exc}") from None
    return kid if isinstance(kid, str) else None
