"""Collapse keys in a connection's queue, and the debounce window (no sockets)."""

from __future__ import annotations

import asyncio

from sse_service.broker.cursors import advance
from sse_service.connection import Connection, Ping
from sse_service.types import EventId, Offset, StoredEvent, StreamPosition

PING = Ping(b"event: ping\ndata: {}\n\n")

EPOCH = "0123456789ab"
BEPOCH = "ba9876543210"


def conn(queue_size: int = 10, window: float = 0.0) -> Connection:
    return Connection(
        "a", queue_size=queue_size, ping_interval=30, batch_window=0, expires_at=None, now=0.0, collapse_window=window
    )


def user_event(n: int, key: str | None = None) -> StoredEvent:
    return StoredEvent("a", EPOCH, Offset(1, n), "n", str(n), 0.0, None, None, key)


def broadcast(n: int, key: str | None = None) -> StoredEvent:
    return StoredEvent(None, BEPOCH, Offset(1, n), "n", f"b{n}", 0.0, None, None, key)


async def test_a_newer_event_with_the_same_key_replaces_the_queued_one_and_goes_last() -> None:
    c = conn()
    for item in (user_event(1, "k"), user_event(2), broadcast(1), user_event(3, "k"), PING):
        assert c.offer(item)
    assert [getattr(i, "data_json", i) for i in await c.take()] == ["2", "b1", "3", PING]


async def test_user_and_broadcast_events_with_one_key_do_not_replace_each_other() -> None:
    c = conn()
    for item in (user_event(1, "k"), broadcast(1, "k"), user_event(2, "k"), broadcast(2, "k")):
        c.offer(item)
    assert [i.data_json for i in await c.take()] == ["2", "b2"]


async def test_collapsing_events_never_overflow_the_queue() -> None:
    c = conn(queue_size=3)
    c.sending = True  # even behind a blocked write
    assert all(c.offer(user_event(n, "k")) for n in range(1, 100))
    assert [i.data_json for i in await c.take()] == ["99"]


async def test_a_written_event_is_not_replaced_and_the_cursor_skips_nothing() -> None:
    c = conn()
    c.offer(user_event(1, "k"))
    c.offer(user_event(2))
    cursor = EventId(StreamPosition(EPOCH, Offset(0, 0)), StreamPosition(BEPOCH, Offset(0, 0)))
    written = []
    for item in await c.take():
        cursor = advance(cursor, item) or cursor
        written.append(item.data_json)
    for item in (user_event(3), user_event(4, "k"), broadcast(1)):
        c.offer(item)
    for item in await c.take():
        moved = advance(cursor, item)
        assert moved is not None  # never "already written": nothing is dropped
        cursor = moved
        written.append(item.data_json)
    assert written == ["1", "2", "3", "4", "b1"]


async def test_the_window_holds_a_keyed_event_so_a_newer_one_replaces_it() -> None:
    c = conn(window=0.05)
    c.offer(user_event(1, "k"))
    taking = asyncio.ensure_future(c.take())
    await asyncio.sleep(0)
    assert not taking.done()
    c.offer(user_event(2, "k"))
    c.offer(user_event(3))
    assert [i.data_json for i in await taking] == ["2", "3"]


async def test_without_a_keyed_event_the_window_does_not_delay_writes() -> None:
    c = conn(window=3600)
    c.offer(user_event(1))
    assert [i.data_json for i in await asyncio.wait_for(c.take(), 5)] == ["1"]
