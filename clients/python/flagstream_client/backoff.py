"""Reconnect delays: exponential, capped, with full jitter (AWS architecture blog, 2015)."""

from __future__ import annotations

import random
from collections.abc import Callable

from .types import BackoffPolicy


class Backoff:
    """Counts failed attempts since the last success and says how long to wait next.

    Full jitter spreads a crowd of clients that lost the same server over the whole
    window instead of bringing them back in waves.
    """

    def __init__(self, policy: BackoffPolicy, rng: Callable[[float, float], float] = random.uniform) -> None:
        self._policy = policy
        self._rng = rng
        self.attempts = 0

    def next_delay(self, at_least: float = 0.0) -> float:
        """The wait before the next attempt; never below `at_least` (a server's Retry-After)."""
        p = self._policy
        ceiling = min(p.maximum, p.minimum * p.factor**self.attempts)
        self.attempts += 1
        return max(at_least, self._rng(0.0, ceiling))

    def succeeded(self) -> None:
        self.attempts = 0


def retry_after_seconds(value: str | None) -> float:
    """Retry-After as seconds (only the delta-seconds form is sent by flagstream)."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return 0.0
