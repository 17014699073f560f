"""The writer's fast encoding gives exactly the ids and skips of the cursor model
(`advance` + `with_id`), for any mix of user events, broadcasts, pings and replays."""

from __future__ import annotations

import random

from sse_service.broker.cursors import advance
from sse_service.connection import Connection, Ping
from sse_service.stream_encoding import encode, with_id
from sse_service.types import EventId, Offset, StoredEvent, StreamPosition

U, B = "0123456789ab", "ba9876543210"


def reference(cursor: EventId | None, items: list) -> tuple[list[bytes], EventId | None]:
    chunks = []
    for item in items:
        if isinstance(item, Ping):
            chunks.append(item.wire)
            continue
        moved = advance(cursor, item) if cursor is not None else item.id
        if moved is not None:
            cursor = moved
            chunks.append(with_id(moved, item))
    return chunks, cursor


def test_encoding_matches_the_cursor_model_on_random_batches() -> None:
    rng = random.Random(7)
    for _ in range(300):
        events = []
        u = b = 0
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.5:
                u += rng.randint(1, 2)
                events.append(StoredEvent("a", U, Offset(5, u), "n", str(u), 0.0, None, StreamPosition(B, Offset(5, b))))
            else:
                b += 1
                events.append(StoredEvent(None, B, Offset(5, b), "n", f"b{b}", 0.0))
        items: list = list(events)
        # A queue holds each event once, each stream's in store order (live events that replay
        # also wrote are the ones at or before the start cursor); pings go anywhere.
        for _ in range(rng.randint(0, 2)):
            items.insert(rng.randint(0, len(items)), Ping(b"event: ping\n\n"))
        start_choices = [
            None,
            EventId(StreamPosition(U, Offset(5, rng.randint(0, 3))), StreamPosition(B, Offset(5, rng.randint(0, 3)))),
            EventId(StreamPosition("111111111111", Offset(1, 0)), StreamPosition(B, Offset(0, 0))),
        ]
        start = rng.choice(start_choices)
        c = Connection("a", queue_size=10, ping_interval=30, batch_window=0, expires_at=None, now=0.0)
        c.cursor = start
        want_chunks, want_cursor = reference(start, items)
        batch = encode(c, items)
        assert b"".join(batch.chunks) == b"".join(want_chunks)
        assert c.cursor == want_cursor
        assert len(batch.sent) == sum(1 for chunk in want_chunks if chunk.startswith(b"id: "))


def test_id_text_is_the_ids_text() -> None:
    stamped = StoredEvent("a", U, Offset(5, 1), "n", "1", 0.0, None, StreamPosition(B, Offset(4, 2)))
    for event in (stamped, StoredEvent("a", U, Offset(5, 1), "n", "1", 0.0), StoredEvent(None, B, Offset(7, 0), "n", "b", 0.0)):
        assert event.id_text() == str(event.id)


def test_a_single_user_event_is_written_once_after_the_cursor_and_skipped_at_or_before_it() -> None:
    c = Connection("a", queue_size=10, ping_interval=30, batch_window=0, expires_at=None, now=0.0)
    at = EventId(StreamPosition(U, Offset(5, 2)), StreamPosition(B, Offset(5, 1)))
    for offset, written in ((Offset(5, 1), False), (Offset(5, 2), False), (Offset(5, 3), True), (Offset(6, 0), True)):
        c.cursor = at
        event = StoredEvent("a", U, offset, "n", "1", 0.0, None, StreamPosition(B, Offset(5, 1)))
        want_chunks, want_cursor = reference(at, [event])
        batch = encode(c, [event])
        assert (b"".join(batch.chunks), c.cursor, len(batch.sent)) == (b"".join(want_chunks), want_cursor, int(written))
    c.cursor = at  # an event of another epoch (the store was wiped) is new
    event = StoredEvent("a", "111111111111", Offset(1, 0), "n", "1", 0.0)
    assert encode(c, [event]).sent == [event] and c.cursor.user.epoch == "111111111111"
