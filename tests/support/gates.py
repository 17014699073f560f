"""A flag gate for tests of the core that are not about flags (the real ones are tested in tests/flags)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flags.types import Decision, FlagFreshness, FlagHealth, Knobs


class SwitchableGate:
    """Everyone in, unless `outside` names them; `change()` notifies like a flag refresh."""

    flag = "sse-delivery"

    def __init__(self, outside: set[str] | None = None, knobs: Knobs | None = None) -> None:
        self.outside = set(outside or ())
        self._knobs = knobs or Knobs()
        self._listeners: list[Callable[[], None]] = []

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    def decide(self, user_id: str) -> Decision:
        return Decision(True, self._knobs) if user_id not in self.outside else Decision(False, Knobs())

    def is_enabled(self, user_id: str) -> bool:
        return user_id not in self.outside

    def knobs(self, user_id: str) -> Knobs:
        return self._knobs

    def health(self) -> FlagHealth:
        return FlagHealth(FlagFreshness.FRESH, "test", time.time())

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def change(self, outside: set[str]) -> None:
        self.outside = set(outside)
        for listener in self._listeners:
            listener()
