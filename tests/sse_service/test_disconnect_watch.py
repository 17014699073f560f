"""The disconnect watch: a client that goes away ends its stream at once (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

from sse_service.connection import Connection
from sse_service.disconnect_watch import DisconnectWatch


def connection() -> Connection:
    return Connection("a", queue_size=10, ping_interval=30, batch_window=0, expires_at=None, now=0.0)


class Messages:
    """An ASGI `receive` fed by the test."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        message = await self.queue.get()
        if isinstance(message, Exception):
            raise message
        return message


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_disconnect_closes_the_connection_as_the_clients_doing() -> None:
    messages, c = Messages(), connection()
    DisconnectWatch(messages.receive, c)
    await settle()
    assert c.closing is None
    messages.queue.put_nowait({"type": "http.disconnect"})
    await settle()
    assert c.closing is not None and c.closing.reason == "client" and c.closing.final_event == b""


async def test_the_request_body_is_read_past_and_the_disconnect_after_it_still_seen() -> None:
    messages, c = Messages(), connection()
    DisconnectWatch(messages.receive, c)
    messages.queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    await settle()
    assert c.closing is None
    messages.queue.put_nowait({"type": "http.disconnect"})
    await settle()
    assert c.closing is not None and c.closing.reason == "client"


async def test_a_receive_that_fails_ends_the_stream() -> None:
    messages, c = Messages(), connection()
    DisconnectWatch(messages.receive, c)
    messages.queue.put_nowait(OSError("connection lost"))
    await settle()
    assert c.closing is not None and c.closing.reason == "client"


async def test_a_cancelled_watch_closes_nothing_and_stops_receiving() -> None:
    messages, c = Messages(), connection()
    watch = DisconnectWatch(messages.receive, c)
    messages.queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    await settle()
    watch.cancel()
    await settle()
    messages.queue.put_nowait({"type": "http.disconnect"})
    await settle()
    assert c.closing is None
    assert messages.queue.qsize() == 1  # nobody read it


async def test_a_disconnect_wakes_the_writer_waiting_on_its_connection() -> None:
    messages, c = Messages(), connection()
    taking = asyncio.ensure_future(c.take())
    DisconnectWatch(messages.receive, c)
    await settle()
    assert not taking.done()
    messages.queue.put_nowait({"type": "http.disconnect"})
    assert await asyncio.wait_for(taking, 5) == []
