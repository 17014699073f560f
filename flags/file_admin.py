"""FlagAdmin over the local flags file: each change is an atomic rewrite of the file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flags.flags_file import read_flags_file, write_flags_file
from flags.strategies import (
    allowlist_strategy,
    check_percent,
    check_user_ids,
    is_allowlist,
    is_rollout,
    read_state,
    rollout_strategy,
)
from flags.types import RolloutState


class FileFlagAdmin:
    """Changes one flag in an Unleash client-API JSON file; a running FileFlagGate picks it up.

    A missing file is created; a missing flag is added, disabled, at 0 %.

    Example::

        admin = FileFlagAdmin("flags.json")
        await admin.set_rollout(25)
        await admin.enable()
    """

    def __init__(self, path: str | Path, flag: str = "sse-delivery") -> None:
        self._path = Path(path)
        self._flag = flag
        self._lock = asyncio.Lock()

    async def set_rollout(self, percent: int) -> None:
        percent = check_percent(percent)
        await self._change(lambda feature: self._put_rollout(feature, percent))

    async def set_allowlist(self, user_ids: list[str]) -> None:
        users = check_user_ids(user_ids)
        await self._change(lambda feature: self._put_allowlist(feature, users))

    async def enable(self) -> None:
        await self._change(lambda feature: feature.update(enabled=True))

    async def disable(self) -> None:
        await self._change(lambda feature: feature.update(enabled=False))

    async def state(self) -> RolloutState:
        features = await asyncio.to_thread(self._load)
        feature = self._find(features) or self._new_feature()
        return read_state(self._flag, feature["enabled"], feature["strategies"])

    async def _change(self, edit: Callable[[dict[str, Any]], object]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._edit, edit)

    def _edit(self, edit: Callable[[dict[str, Any]], object]) -> None:
        features = self._load()
        feature = self._find(features)
        if feature is None:
            feature = self._new_feature()
            features.append(feature)
        edit(feature)
        self._keep_rollout(feature)
        write_flags_file(self._path, features)

    def _load(self) -> list[dict[str, Any]]:
        if not self._path.exists():
            return []
        return [dict(feature) for feature in read_flags_file(self._path).features]

    def _find(self, features: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((feature for feature in features if feature["name"] == self._flag), None)

    def _new_feature(self) -> dict[str, Any]:
        return {"name": self._flag, "type": "release", "enabled": False, "strategies": [], "variants": []}

    def _keep_rollout(self, feature: dict[str, Any]) -> None:
        if not any(is_rollout(strategy) for strategy in feature["strategies"]):
            self._put_rollout(feature, 0)

    def _put_rollout(self, feature: dict[str, Any], percent: int) -> None:
        others = [s for s in feature["strategies"] if not is_rollout(s)]
        feature["strategies"] = [rollout_strategy(self._flag, percent), *others]

    def _put_allowlist(self, feature: dict[str, Any], users: list[str]) -> None:
        kept = [s for s in feature["strategies"] if not is_allowlist(s)]
        feature["strategies"] = kept + ([allowlist_strategy(self._flag, users)] if users else [])
