"""Cursors over two history streams (the user's own and the broadcast one).

A client's cursor (`EventId`) holds a position in each stream. Reading after it is
"user entries after its user offset + broadcast entries after its broadcast offset",
merged: a user event goes after every broadcast it was published after (its stamped
`broadcast_at`). The id given to each event is the cursor right after it, so a client
that resumes from any id gets every later event exactly once, however the streams
interleave — and a cursor from another epoch, or one that fell behind trimming, resets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..types import NO_EPOCH, ZERO, EventId, HistoryPage, Offset, StoredEvent, StreamPosition

NOWHERE = StreamPosition(NO_EPOCH, ZERO)


@dataclass(frozen=True, slots=True)
class StreamRead:
    """One stream as a broker read it: its epoch, newest and highest trimmed offsets,
    and at most `count` entries after the requested position (from the start when the
    requested epoch is not this stream's)."""

    epoch: str
    last: Offset
    trimmed: Offset
    entries: list[StoredEvent]
    from_start: bool

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.epoch, self.last)

    def loses(self, cursor: StreamPosition) -> bool:
        """True when events after `cursor` may be gone (or it is not this store's)."""
        return cursor.epoch != self.epoch or self.trimmed > cursor.offset or cursor.offset > self.last


ReadBoth = Callable[[StreamPosition, StreamPosition, int], Awaitable[tuple[StreamRead, StreamRead]]]


async def read_history(read: ReadBoth, after: EventId | None, limit: int) -> HistoryPage:
    """The page after `after` (or from the oldest retained event), with per-event ids."""
    user_after, broadcast_after = (after.user, after.broadcast) if after else (NOWHERE, NOWHERE)
    user, broadcast = await read(user_after, broadcast_after, limit)
    reset = after is not None and (user.loses(after.user) or broadcast.loses(after.broadcast))
    if reset and not (user.from_start and broadcast.from_start):
        user, broadcast = await read(NOWHERE, NOWHERE, limit)
    if after is None or reset:
        start = EventId(StreamPosition(user.epoch, ZERO), StreamPosition(broadcast.epoch, ZERO))
    else:
        start = after
    events, ids = merge(start, user.entries, broadcast.entries, broadcast.epoch, limit)
    return HistoryPage(events, ids, EventId(user.position, broadcast.position), reset)


def merge(
    start: EventId, own: list[StoredEvent], broadcasts: list[StoredEvent], broadcast_epoch: str, limit: int
) -> tuple[list[StoredEvent], list[EventId]]:
    events: list[StoredEvent] = []
    ids: list[EventId] = []
    cursor = start
    i = j = 0
    while len(events) < limit and (i < len(own) or j < len(broadcasts)):
        take_broadcast = j < len(broadcasts) and (i >= len(own) or _published_after(own[i], broadcasts[j], broadcast_epoch))
        if take_broadcast:
            event = broadcasts[j]
            j += 1
            cursor = cursor.with_broadcast(event.epoch, event.offset)
        else:
            event = own[i]
            i += 1
            cursor = cursor.with_user(event.epoch, event.offset)
        events.append(event)
        ids.append(cursor)
    return events, ids


def _published_after(own: StoredEvent, broadcast: StoredEvent, broadcast_epoch: str) -> bool:
    stamp = own.broadcast_at
    return stamp is not None and stamp.epoch == broadcast_epoch and stamp.offset >= broadcast.offset


def advance(cursor: EventId, event: StoredEvent) -> EventId | None:
    """The cursor after writing `event` on a stream at `cursor`; None when the stream
    already carried it (a live event that replay also wrote)."""
    if event.user_id is None:
        if cursor.broadcast.covers(event.epoch, event.offset):
            return None
        return cursor.with_broadcast(event.epoch, event.offset)
    if cursor.user.covers(event.epoch, event.offset):
        return None
    return cursor.with_user(event.epoch, event.offset)
