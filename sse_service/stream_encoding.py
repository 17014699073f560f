"""Turning a connection's queued items into the bytes of one write, and its new cursor.

The per-event hot path of every stream: it builds no `EventId`/`StreamPosition` objects
and formats no offsets per event. Each event's position is encoded once for all streams
(`StoredEvent.cursor_part`), each connection's unchanged half of the cursor once per write.
"""

from __future__ import annotations

import json
import time
from typing import cast

from .connection import Connection, Ping, QueueItem
from .sse import ServerSentEvent
from .types import EventId, StoredEvent, StreamPosition, position_bytes, position_line


def with_id(event_id: EventId, event: StoredEvent) -> bytes:
    """The event's block (`StoredEvent.wire`, encoded once for every stream) after its `id:`."""
    return b"id: " + str(event_id).encode() + b"\n" + event.wire


class Batch:
    """What one write carries: its chunks, the events in it (for delivery metrics), and the
    trace carriers of the traced ones."""

    __slots__ = ("chunks", "sent", "carriers")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.sent: list[StoredEvent] = []
        self.carriers: list[dict[str, str]] = []


def encode(connection: Connection, items: list[QueueItem]) -> Batch:
    """Each event once, with the cursor right after it as its id; an event the stream
    already carried (a live event that replay also wrote) is skipped. Advances
    `connection.cursor` over what the write carries."""
    batch = Batch()
    chunks, sent = batch.chunks, batch.sent
    cursor = connection.cursor
    if cursor is not None and len(items) == 1:
        event = items[0]
        if type(event) is StoredEvent and event.user_id is not None:
            # One new user event (the steady notification path): its id's user half is its
            # own position, the broadcast half the cursor's.
            user = cursor.user
            if event.epoch != user.epoch or event.offset > user.offset:
                broadcast = cursor.broadcast
                chunks += (event.lead, position_line(broadcast), event.wire)
                sent.append(event)
                if event.trace is not None:
                    batch.carriers.append(event.trace)
                connection.cursor = EventId(event.position, broadcast)
            return batch
    if cursor is None:  # no position yet: the first event's own id is the start
        start = next((i for i in items if type(i) is StoredEvent), None)
        if start is None:
            chunks.extend(cast(Ping, i).wire for i in items)
            return batch
        cursor = EventId(
            _before(start.id.user) if start.user_id is not None else start.id.user,
            _before(start.id.broadcast) if start.user_id is None else start.id.broadcast,
        )
    user, broadcast = cursor.user, cursor.broadcast
    u_epoch, u_ms, u_n = user.epoch, user.offset.ms, user.offset.n
    b_epoch, b_ms, b_n = broadcast.epoch, broadcast.offset.ms, broadcast.offset.n
    first = items[0] if items else None
    if (
        type(first) is StoredEvent
        and first.user_id is None
        and (first.epoch != b_epoch or first.offset.ms > b_ms or (first.offset.ms == b_ms and first.offset.n > b_n))
        and all(type(e) is StoredEvent and e.user_id is None for e in items)
    ):
        # A write of broadcasts only, the first one new (the burst path): the queue keeps each
        # stream's events in store order, so every later one is new too.
        broadcasts = cast(list[StoredEvent], items)
        prefix = b"id: " + position_bytes(user) + b"."
        chunks.append(prefix.join([b"", *[e.lead for e in broadcasts]]))
        sent.extend(broadcasts)
        batch.carriers.extend(e.trace for e in broadcasts if e.trace is not None)
        connection.cursor = EventId(user, broadcasts[-1].position)
        return batch
    u_last: StoredEvent | None = None
    b_last: StoredEvent | None = None
    # The id's half that stays while a run of the other stream's events goes out, made once
    # per run: `id: <user part>.` before broadcasts, `<broadcast part>\n` after user events.
    u_prefix: bytes | None = None
    b_suffix: bytes | None = None
    append = chunks.append
    for event in items:
        if type(event) is not StoredEvent:
            append(cast(Ping, event).wire)
            continue
        offset = event.offset
        if event.user_id is None:
            if event.epoch == b_epoch and (offset.ms < b_ms or (offset.ms == b_ms and offset.n <= b_n)):
                continue
            b_epoch, b_ms, b_n = event.epoch, offset.ms, offset.n
            b_last, b_suffix = event, None
            if u_prefix is None:
                u_prefix = b"id: " + (u_last.cursor_part if u_last is not None else position_bytes(user)) + b"."
            append(u_prefix)
            append(event.lead)  # `<its part>\n` + its block
        else:
            if event.epoch == u_epoch and (offset.ms < u_ms or (offset.ms == u_ms and offset.n <= u_n)):
                continue
            u_epoch, u_ms, u_n = event.epoch, offset.ms, offset.n
            u_last, u_prefix = event, None
            if b_suffix is None:
                b_suffix = b_last.cursor_part + b"\n" if b_last is not None else position_line(broadcast)
            append(event.lead)  # `id: <its part>.`
            append(b_suffix)
            append(event.wire)
        sent.append(event)
        if event.trace is not None:
            batch.carriers.append(event.trace)
    if u_last is not None or b_last is not None:
        connection.cursor = EventId(
            u_last.position if u_last is not None else user, b_last.position if b_last is not None else broadcast
        )
    elif connection.cursor is None:
        connection.cursor = cursor
    return batch


def _before(position: StreamPosition) -> StreamPosition:
    """A position just before `position` in its stream (so the event at it is written)."""
    from .types import ZERO

    return StreamPosition(position.epoch, ZERO)


# -- control events: the stream's own events, encoded once ---------------------------------
def final_event(event: str, retry: int | None = None) -> bytes:
    """The last event of a stream (`disabled`, `reauth`, `overflow`, `evicted`, `shutdown`)."""
    return ServerSentEvent(data="{}", event=event, retry=retry).encode()


FINAL_EVENTS = {
    "disabled": final_event("disabled"),
    "reauth": final_event("reauth"),
    "overflow": final_event("overflow"),
    "evicted": final_event("evicted"),
}


def ping_event(now: float) -> Ping:
    return Ping(ServerSentEvent(data=json.dumps({"server_time": rfc3339(now)}), event="ping").encode())


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
