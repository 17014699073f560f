"""`StoredEvent` is a frozen value: its SSE bytes are made with it, never set on a shared event later."""

from __future__ import annotations

import pytest

from sse_service.sse import ServerSentEvent
from sse_service.stream_encoding import with_id
from sse_service.types import EventId, Offset, StoredEvent, StreamPosition

EPOCH = "0123456789ab"


def test_a_stored_event_is_frozen_and_carries_its_bytes_from_the_start() -> None:
    event = StoredEvent(None, EPOCH, Offset(5, 2), "news", '{"a":1}', 0.0)
    with pytest.raises(AttributeError):
        event.event = "other"  # type: ignore[misc]
    assert event.wire == ServerSentEvent(data='{"a":1}', event="news").encode()
    assert event.cursor_part == f"{EPOCH}.5-2".encode()


def test_the_stream_bytes_of_an_event_are_its_id_then_its_wire() -> None:
    event = StoredEvent("u1", EPOCH, Offset(5, 2), "news", '"x"', 0.0)
    event_id = EventId(StreamPosition(EPOCH, Offset(5, 2)), StreamPosition(EPOCH, Offset(1, 0)))
    assert with_id(event_id, event) == f"id: {event_id}\n".encode() + b'event: news\ndata: "x"\n\n'
