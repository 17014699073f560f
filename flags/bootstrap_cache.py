"""An in-memory UnleashClient cache holding one known flag state (no disk, no network)."""

from __future__ import annotations

from typing import Any

from UnleashClient.cache import BaseCache
from UnleashClient.constants import FEATURES_URL


class BootstrapCache(BaseCache):
    """Hands UnleashClient a state it already trusts; used by the offline file backend.

    Each accepted flags file gets a fresh client over one of these, so the engine never
    sees a half-applied file and nothing is written to disk.
    """

    def __init__(self, features_json: str) -> None:
        self._values: dict[str, Any] = {FEATURES_URL: features_json}
        self.bootstrapped = True

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._values.update(data)

    def get(self, key: str, default: Any | None = None) -> Any:
        return self._values.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._values

    def destroy(self) -> None:
        self._values.clear()
