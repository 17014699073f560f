"""Development secrets: generated once into STATE_DIR so `serve` and `token` agree.

Only used for settings left empty, which is what the embedded default does; a
deployment sets FLAGSTREAM_JWT_SECRET and the static tokens itself.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .config import Settings

_FILE = "dev-secrets.json"
_NAMES = ("jwt_secret", "publish_token", "admin_token")


def with_dev_secrets(settings: Settings) -> Settings:
    missing = [name for name in _NAMES if not getattr(settings, name)]
    if not missing or (settings.jwt_public_key or settings.jwks_url) and missing == ["jwt_secret"]:
        return settings
    stored = _load_or_create(Path(settings.state_dir) / _FILE)
    return settings.replace(**{name: stored[name] for name in missing})


def _load_or_create(path: Path) -> dict[str, str]:
    try:
        stored = json.loads(path.read_text())
        if all(isinstance(stored.get(n), str) and stored[n] for n in _NAMES):
            return stored
    except (FileNotFoundError, ValueError):
        pass
    stored = {name: secrets.token_urlsafe(32) for name in _NAMES}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(stored, fh)
    os.replace(tmp, path)
    return stored
