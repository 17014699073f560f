"""Development secrets: generated once into STATE_DIR so `serve` and `token` agree.

Only used for settings left empty, which is what the embedded default does; a
deployment sets FLAGSTREAM_JWT_SECRET and the static tokens itself. The file is
created 0600 in a 0700 directory, and one that others can read is refused: its
tokens are as good as the admin token.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import tempfile
from pathlib import Path

from .config import ConfigError, Settings

_FILE = "dev-secrets.json"
_NAMES = ("jwt_secret", "publish_token", "admin_token")


def with_dev_secrets(settings: Settings) -> Settings:
    if settings.dev_mode and (settings.jwt_secret or settings.jwt_public_key or settings.jwks_url):
        # /dev/token mints tokens for anyone with this secret: never with a real one.
        raise ConfigError(
            "FLAGSTREAM_DEV_MODE: dev mode mints tokens with its own generated secret; "
            "unset FLAGSTREAM_JWT_SECRET / JWT_PUBLIC_KEY / JWKS_URL or leave dev mode off"
        )
    missing = [name for name in _NAMES if not getattr(settings, name)]
    if not missing or (settings.jwt_public_key or settings.jwks_url) and missing == ["jwt_secret"]:
        return settings
    stored = _load_or_create(Path(settings.state_dir) / _FILE)
    return settings.replace(**{name: stored[name] for name in missing})


def _load_or_create(path: Path) -> dict[str, str]:
    try:
        _refuse_if_readable_by_others(path)
        stored: dict[str, str] = json.loads(path.read_text())
        if all(isinstance(stored.get(n), str) and stored[n] for n in _NAMES):
            return stored
    except (FileNotFoundError, ValueError):
        pass
    stored = {name: secrets.token_urlsafe(32) for name in _NAMES}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A fresh name every time: a left-over (or planted) temp file never lends us its mode.
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as fh:
            json.dump(stored, fh)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return stored


def _refuse_if_readable_by_others(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"FLAGSTREAM_STATE_DIR: {path} is open to group/others (mode {mode:04o}); "
            f"`chmod 600 {path}` or delete it to generate new dev secrets"
        )
