"""Settings that would make the service unsafe: refused at start, one line naming the setting.

Kept apart from `config` so that the rules (and why each exists) read in one place; see
docs/security.md for the threat model behind them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from .config import ConfigError

if TYPE_CHECKING:
    from .config import Settings

MIN_JWT_SECRET_BYTES = 32  # HS256 keys shorter than the hash are brute-forceable offline (RFC 7518 §3.2)


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1), with or without brackets."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_security(s: Settings) -> None:
    if s.jwt_secret and len(s.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise ConfigError(
            f"FLAGSTREAM_JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes "
            f"(got {len(s.jwt_secret.encode())}); generate one with `openssl rand -base64 48`"
        )
    if s.jwt_public_key and "-----BEGIN" not in s.jwt_public_key and not Path(s.jwt_public_key).is_file():
        raise ConfigError(f"FLAGSTREAM_JWT_PUBLIC_KEY: no such file: {s.jwt_public_key}")
    if s.jwks_url:
        url = urlparse(s.jwks_url)
        if not (url.scheme == "https" or url.scheme == "http" and is_loopback(url.hostname)):
            raise ConfigError(f"FLAGSTREAM_JWKS_URL: must be an https:// URL (http:// only on loopback), got {s.jwks_url!r}")
    if (s.jwt_public_key or s.jwks_url) and not s.jwt_audience:
        raise ConfigError(
            "FLAGSTREAM_JWT_AUDIENCE: required with JWT_PUBLIC_KEY or JWKS_URL, so that tokens "
            "the identity provider issued for other APIs are refused"
        )
    if s.dev_mode and not is_loopback(s.host):
        raise ConfigError(
            f"FLAGSTREAM_DEV_MODE: dev mode mints tokens for anyone at /dev/token, so it listens "
            f"only on loopback (FLAGSTREAM_HOST={s.host!r})"
        )
