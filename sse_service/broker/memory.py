"""The embedded broker: everything in this process (one worker only).

The same model as the Redis broker: one history stream per user plus the broadcast
stream, each with an epoch and `<ms>-<n>` offsets; idempotency records per recipient.
A request is checked whole before anything is written, so it is all-or-nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from ..types import (
    EPOCH_LENGTH,
    NO_EPOCH,
    ZERO,
    EventId,
    HistoryPage,
    IdempotencyConflict,
    LeaseResult,
    Notification,
    Offset,
    StoredEvent,
    StreamPosition,
)
from .base import Accepted, BrokerListeners
from .cursors import StreamRead, read_history
from .keys import check_user_ids, fingerprint, idempotency_digest

MAX_IDEMPOTENCY_RECORDS = 200_000  # oldest dropped beyond this (and every record after HISTORY_TTL)


def new_epoch() -> str:
    while True:
        epoch = os.urandom(EPOCH_LENGTH // 2).hex()
        if epoch != NO_EPOCH:
            return epoch


class Entry(msgspec.Struct, frozen=True, eq=False, gc=False):
    """A history entry: plain values (the event's own `Offset` and stamp, shared), never
    tracked by the garbage collector. A long history is not walked by full collections
    (with StoredEvent/Offset dataclasses it was: 60–440 ms pauses with 200,000 events),
    and appending one is not an allocation the young collections count or walk (as tuples,
    they were half of every young collection's objects). Reads turn the entries they return
    into StoredEvents."""

    offset: Offset
    event: str
    data_json: str
    created_at: float
    trace: dict[str, str] | None
    stamp: StreamPosition | None
    collapse_key: str | None


def _entry(event: StoredEvent) -> Entry:
    return Entry(
        event.offset, event.event, event.data_json, event.created_at, event.trace, event.broadcast_at, event.collapse_key
    )


def _event(user_id: str | None, epoch: str, e: Entry) -> StoredEvent:
    return StoredEvent(user_id, epoch, e.offset, e.event, e.data_json, e.created_at, e.trace, e.stamp, e.collapse_key)


@dataclass(slots=True)
class _Stream:
    epoch: str
    touched: float
    last: Offset = ZERO
    trimmed: Offset = ZERO
    stamp: StreamPosition | None = None  # newest broadcast position stamped on a user event
    # Made on the first write: a user with an open stream and no history costs no deque.
    entries: deque[Entry] | None = None
    latest: dict[str, Entry] | None = None  # collapse key → its newest entry


class MemoryBroker:
    name = "memory"

    def __init__(self, history_size: int, history_ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._size = history_size
        self._ttl = history_ttl
        self._ttl_ms = int(history_ttl * 1000)
        self._clock = clock
        self._streams: dict[str | None, _Stream] = {}
        self._idempotency: OrderedDict[tuple[str | None, str], tuple[float, str, str]] = OrderedDict()
        self._leases: dict[str, dict[str, float]] = {}  # user → connection → opened at
        self._listeners: BrokerListeners | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._swept = clock()

    async def start(self, listeners: BrokerListeners) -> None:
        self._listeners = listeners
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._listeners = None

    @property
    def tracked_users(self) -> int:
        """Users with any state here (history or epoch): bounded by pruning."""
        return sum(1 for key in self._streams if key is not None)

    async def append(self, publisher: str, notifications: Sequence[Notification]) -> Accepted:
        check_user_ids(list(notifications))
        now = self._clock()
        self._prune(now)
        # Check every idempotency record first: a conflict refuses the request whole.
        known: dict[tuple[int, str | None], str] = {}
        for index, n in enumerate(notifications):
            if not n.idempotency_key:
                continue
            digest, print_ = idempotency_digest(publisher, n.idempotency_key), fingerprint(n)
            for user_id in n.user_ids or (None,):
                record = self._idempotency.get((user_id, digest))
                if record is not None and record[0] >= now:
                    if record[1] != print_:
                        raise IdempotencyConflict(index)
                    known[(index, user_id)] = record[2]
        ids: list[list[str]] = []
        created: list[StoredEvent] = []
        duplicates = 0
        ms, broadcast = int(now * 1000), self._stream(None, now)
        for index, n in enumerate(notifications):
            these = []
            for user_id in n.user_ids or (None,):
                old = known.get((index, user_id)) if known else None
                if old is not None:
                    these.append(old)
                    continue
                event = self._write(user_id, n, now, ms, broadcast)
                these.append(event.id_text())
                created.append(event)
                if n.idempotency_key:
                    record_key = (user_id, idempotency_digest(publisher, n.idempotency_key))
                    self._idempotency[record_key] = (now + self._ttl, fingerprint(n), these[-1])
                    self._idempotency.move_to_end(record_key)
            if known and all((index, u) in known for u in n.user_ids or (None,)):
                duplicates += 1
            ids.append(these)
        if created and self._listeners is not None and self._loop is not None:
            # Fan out after the publisher has its answer: the caller never waits for it.
            self._loop.call_soon(self._fan_out, created)
        return Accepted(ids, created, duplicates)

    def _stream(self, user_id: str | None, now: float) -> _Stream:
        stream = self._streams.get(user_id)
        if stream is None:
            stream = self._streams[user_id] = _Stream(new_epoch(), now)
        stream.touched = now
        return stream

    def _write(self, user_id: str | None, n: Notification, now: float, ms: int, broadcast: _Stream) -> StoredEvent:
        """Store one event at `now` (`ms`); `broadcast` is the broadcast stream (touched)."""
        stream = self._stream(user_id, now) if user_id is not None else broadcast
        last = stream.last
        offset = Offset(ms, 0) if ms > last.ms else Offset(last.ms, last.n + 1)
        stamp = None
        if user_id is not None:
            stamp = stream.stamp
            # The broadcast position it was published at; never before the one stamped on the
            # user's previous event (kept as it is when the broadcast stream has not moved).
            if stamp is None or stamp.epoch != broadcast.epoch or stamp.offset < broadcast.last:
                stamp = stream.stamp = StreamPosition(broadcast.epoch, broadcast.last)
        event = StoredEvent(user_id, stream.epoch, offset, n.event, n.data_json, now, n.trace, stamp, n.collapse_key)
        stream.last = offset
        entry = _entry(event)
        entries = stream.entries
        if entries is None:
            entries = stream.entries = deque()
        entries.append(entry)
        if n.collapse_key is not None:
            latest = stream.latest
            if latest is None:
                latest = stream.latest = {}
            replaced = latest.get(n.collapse_key)
            latest[n.collapse_key] = entry
            if replaced is not None:
                entries.remove(replaced)  # present: a trimmed entry leaves `latest` too
        if len(entries) > self._size or entries[0].offset.ms < ms - self._ttl_ms:
            self._trim(stream, ms)
        return event

    def _trim(self, stream: _Stream, now_ms: int) -> None:
        horizon = now_ms - self._ttl_ms
        entries, latest = stream.entries, stream.latest
        while entries and (len(entries) > self._size or entries[0].offset.ms < horizon):
            gone = entries.popleft()
            stream.trimmed = gone.offset
            key = gone.collapse_key
            if key is not None and latest is not None and latest.get(key) is gone:
                del latest[key]

    def _fan_out(self, events: list[StoredEvent]) -> None:
        listeners = self._listeners
        if listeners is None:
            return
        if listeners.on_events is not None:
            listeners.on_events(events)
            return
        on_event = listeners.on_event
        for event in events:
            on_event(event)

    def _read(self, user_id: str | None, after: StreamPosition, count: int) -> StreamRead:
        now = self._clock()
        stream = self._stream(user_id, now)
        self._trim(stream, int(now * 1000))
        from_start = after.epoch != stream.epoch
        floor = ZERO if from_start else after.offset
        newer = [e for e in stream.entries or () if e.offset > floor][:count]
        entries = [_event(user_id, stream.epoch, e) for e in newer]
        return StreamRead(stream.epoch, stream.last, stream.trimmed, entries, from_start or floor == ZERO)

    async def history(self, user_id: str, after: EventId | None, limit: int) -> HistoryPage:
        async def read(user_after: StreamPosition, broadcast_after: StreamPosition, count: int) -> tuple[StreamRead, StreamRead]:
            return self._read(user_id, user_after, count), self._read(None, broadcast_after, count)

        return await read_history(read, after, limit)

    async def position(self, user_id: str) -> EventId:
        now = self._clock()
        user, broadcast = self._stream(user_id, now), self._stream(None, now)
        return EventId(StreamPosition(user.epoch, user.last), StreamPosition(broadcast.epoch, broadcast.last))

    def _prune(self, now: float) -> None:
        """Forget users untouched for HISTORY_TTL (their history has expired anyway) and
        expired idempotency records; cap the records. Runs at most every TTL/2 (≤ 60 s)."""
        while self._idempotency:
            key, (expires, _, _) = next(iter(self._idempotency.items()))
            if expires >= now and len(self._idempotency) <= MAX_IDEMPOTENCY_RECORDS:
                break
            del self._idempotency[key]
        if now - self._swept < min(self._ttl / 2, 60.0):
            return
        self._swept = now
        stale = [k for k, s in self._streams.items() if k is not None and s.touched < now - self._ttl]
        for stream_key in stale:
            del self._streams[stream_key]

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
