"""Which new streams are reconnects: the rollout report's evidence for PING_INTERVAL.

A stream is a reconnect when it resumes (`Last-Event-ID` sent), or when the same user
opens one within ``window`` seconds of their previous stream ending on this instance.
A `204` for a user outside the rollout is neither: it never opened a stream.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class ReconnectCounter:
    def __init__(self, window: float = 60.0, remembered: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._remembered = remembered
        self._clock = clock
        self._ended: OrderedDict[str, float] = OrderedDict()  # user → when their last stream here ended

    def kind(self, user_id: str, resumed: bool) -> str | None:
        """The kind of reconnect a stream opened now is: `resumed`, `repeat`, or None (a first stream)."""
        ended = self._ended.pop(user_id, None)
        if resumed:
            return "resumed"
        if ended is not None and self._clock() - ended <= self.window:
            return "repeat"
        return None

    def stream_ended(self, user_id: str) -> None:
        self._ended[user_id] = self._clock()
        self._ended.move_to_end(user_id)
        while len(self._ended) > self._remembered:  # bounded: the oldest are past the window anyway
            self._ended.popitem(last=False)
