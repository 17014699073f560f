"""When to try again, and how long to wait: full-jitter exponential backoff that never
waits less than the server's Retry-After, within an overall deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # in all, the first included
    initial_delay: float = 0.2  # seconds; the ceiling doubles per failure
    max_delay: float = 10.0
    deadline: float = 60.0  # give up when the next wait would end after this many seconds

    def delay(self, failures: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """The wait after `failures` failed attempts (1 for the first)."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (failures - 1))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        return max(jittered, retry_after or 0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
