"""How long history is kept, and whether a client's cursor fell out of it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..types import EventId, StoredEvent


@dataclass(frozen=True)
class Retention:
    size: int          # events kept per history (a user's own, and the broadcast one)
    ttl: float         # seconds

    def trim(self, history: deque[StoredEvent], now_ms: int) -> int:
        """Drop what is too old or too many; return the highest dropped seq (0 if none)."""
        dropped = 0
        horizon = now_ms - int(self.ttl * 1000)
        while history and (len(history) > self.size or history[0].id.ms < horizon):
            dropped = history.popleft().seq
        return dropped

    def lost(self, after: EventId, now_ms: int, trimmed: tuple[int, ...], last_seq: int) -> bool:
        """True when events after `after` may be gone, so the client must refetch (reset).

        A cursor ahead of anything this store issued also resets: the store was wiped.
        """
        if after.ms < now_ms - int(self.ttl * 1000):
            return True
        if after.seq > last_seq:
            return True
        return any(after.seq < seq for seq in trimmed)
