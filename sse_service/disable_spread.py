"""Ending the streams of users who left the rollout, spread out in time.

A kill switch turns the flag off for everyone at once. Ending every stream in the same
instant sends every client to the inbox in the same second; with ``window`` > 0 each
stream gets its `disabled` at its own uniformly random moment within the window (as
`shutdown` jitters its `retry`), and the user's flag is checked again at that moment, so a
flag turned back on in between ends nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable

from .connection import Connection
from .hub import Hub


class SpreadDisabler:
    def __init__(
        self, hub: Hub, still_disabled: Callable[[str], bool], window: float, random_fraction: Callable[[], float] = random.random
    ) -> None:
        self._hub = hub
        self._still_disabled = still_disabled
        self.window = window
        self._random = random_fraction
        self._pending: dict[str, asyncio.TimerHandle] = {}  # connection id → its scheduled `disabled`

    @property
    def pending(self) -> int:
        return len(self._pending)

    def disable(self, connections: Iterable[Connection]) -> None:
        if self.window <= 0:
            for connection in connections:
                self._hub.close(connection, "disabled")
            return
        loop = asyncio.get_running_loop()
        for connection in connections:
            if connection.id not in self._pending:  # a newer flag change does not push it later
                self._pending[connection.id] = loop.call_later(self._random() * self.window, self._end, connection)

    def _end(self, connection: Connection) -> None:
        self._pending.pop(connection.id, None)
        if connection.closing is None and self._still_disabled(connection.user_id):
            self._hub.close(connection, "disabled")

    def cancel(self) -> None:
        for timer in self._pending.values():
            timer.cancel()
        self._pending.clear()
