"""The embedded broker: everything in this process (one worker only)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from ..types import EventId, HistoryPage, LeaseResult, Notification, StoredEvent
from .base import Accepted, BrokerListeners
from .retention import Retention


class MemoryBroker:
    name = "memory"

    def __init__(self, history_size: int, history_ttl: float, clock=time.time) -> None:
        self._retention = Retention(history_size, history_ttl)
        self._clock = clock
        # Seeded from the clock so that ids issued after a restart sort after the old ones.
        self._last_ms = int(clock() * 1000)
        self._seq = self._last_ms * 1000
        self._histories: dict[str | None, deque[StoredEvent]] = {}
        self._trimmed: dict[str | None, int] = {}          # highest seq dropped, per history
        self._idempotency: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self._leases: dict[str, dict[str, float]] = {}     # user → connection → opened at
        self._listeners: BrokerListeners | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, listeners: BrokerListeners) -> None:
        self._listeners = listeners
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._listeners = None

    async def append(self, publisher: str, notifications: Sequence[Notification]) -> Accepted:
        now = self._clock()
        ms = max(int(now * 1000), self._last_ms)
        self._last_ms = ms
        self._expire_idempotency(now)
        ids: list[list[str]] = []
        created: list[StoredEvent] = []
        duplicates = 0
        for n in notifications:
            key = (publisher, n.idempotency_key) if n.idempotency_key else None
            if key and key in self._idempotency:
                ids.append(self._idempotency[key][1])
                duplicates += 1
                continue
            these = []
            for user_id in n.user_ids or (None,):
                self._seq += 1
                event = StoredEvent(EventId(ms, self._seq), user_id, n.event, n.data_json, now, n.trace)
                self._store(event, ms)
                these.append(str(event.id))
                created.append(event)
            if key:
                self._idempotency[key] = (now + self._retention.ttl, these)
            ids.append(these)
        if created and self._listeners is not None and self._loop is not None:
            # Fan out after the publisher has its answer: the caller never waits for it.
            self._loop.call_soon(self._fan_out, created)
        return Accepted(ids, created, duplicates)

    def _fan_out(self, events: list[StoredEvent]) -> None:
        if self._listeners is not None:
            on_event = self._listeners.on_event
            for event in events:
                on_event(event)

    def _store(self, event: StoredEvent, now_ms: int) -> None:
        history = self._histories.setdefault(event.user_id, deque())
        history.append(event)
        dropped = self._retention.trim(history, now_ms)
        if dropped:
            self._trimmed[event.user_id] = max(self._trimmed.get(event.user_id, 0), dropped)

    async def history(self, user_id: str, after: EventId | None, limit: int) -> HistoryPage:
        now_ms = int(self._clock() * 1000)
        for key in (user_id, None):
            history = self._histories.get(key)
            if history is not None:
                dropped = self._retention.trim(history, now_ms)
                if dropped:
                    self._trimmed[key] = max(self._trimmed.get(key, 0), dropped)
        trimmed = (self._trimmed.get(user_id, 0), self._trimmed.get(None, 0))
        reset = after is not None and self._retention.lost(after, now_ms, trimmed, self._seq)
        floor = after.seq if after else 0
        merged = [e for e in self._histories.get(user_id, ()) if e.seq > floor]
        merged += [e for e in self._histories.get(None, ()) if e.seq > floor]
        merged.sort(key=lambda e: e.seq)
        return HistoryPage(merged[:limit], reset)

    async def position(self) -> EventId:
        return EventId(self._last_ms, self._seq)

    async def subscribe(self, user_id: str) -> None:
        return None

    async def unsubscribe(self, user_id: str) -> None:
        return None

    async def acquire_lease(self, user_id: str, connection_id: str, limit: int, evict_oldest: bool) -> LeaseResult:
        held = self._leases.setdefault(user_id, {})
        evicted: tuple[str, ...] = ()
        if len(held) >= limit:
            if not evict_oldest:
                return LeaseResult(False)
            oldest = sorted(held, key=held.__getitem__)[: len(held) - limit + 1]
            for connection in oldest:
                del held[connection]
            evicted = tuple(oldest)
        held[connection_id] = self._clock()
        return LeaseResult(True, evicted)

    async def release_lease(self, user_id: str, connection_id: str) -> None:
        held = self._leases.get(user_id)
        if held is not None:
            held.pop(connection_id, None)
            if not held:
                del self._leases[user_id]

    async def renew_leases(self, leases: Sequence[tuple[str, str]]) -> None:
        return None

    async def evict(self, user_id: str, connection_id: str) -> None:
        if self._listeners is not None:
            self._listeners.on_evict(user_id, connection_id)

    async def check(self) -> str | None:
        return None

    def _expire_idempotency(self, now: float) -> None:
        if len(self._idempotency) > 1024:
            for key in [k for k, (expires, _) in self._idempotency.items() if expires < now]:
                del self._idempotency[key]
