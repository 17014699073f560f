"""Direct writes: a write the kernel took at once skips Hypercorn's lock and drain; a write
that leaves bytes queued drains under the lock (backpressure unchanged); order is kept."""

from __future__ import annotations

import asyncio
from typing import Any

from hypercorn.events import Closed, RawData

from sse_service.direct_writes import DirectWrites


class FakeTransport:
    def __init__(self) -> None:
        self.queued = 0  # bytes the kernel did not take
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.queued


class FakeWriter:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.written: list[bytes] = []
        self.drains = 0
        self.release: asyncio.Future[None] | None = None
        self.fail = False

    def write(self, data: bytes) -> None:
        if self.fail:
            raise ConnectionResetError
        self.written.append(data)

    async def drain(self) -> None:
        self.drains += 1
        if self.release is not None:
            await self.release


class FakeProtocol:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def handle(self, event: Any) -> None:
        self.events.append(event)


def server() -> Any:
    s = DirectWrites.__new__(DirectWrites)
    s.send_lock = asyncio.Lock()
    s.writer = FakeWriter()
    s.protocol = FakeProtocol()
    return s


async def test_a_write_the_kernel_took_needs_no_drain() -> None:
    s = server()
    await s.protocol_send(RawData(b"a"))
    await s.protocol_send(RawData(b"b"))
    assert s.writer.written == [b"a", b"b"] and s.writer.drains == 0


async def test_a_write_that_leaves_bytes_queued_drains_under_the_lock_and_later_writes_wait_their_turn() -> None:
    s = server()
    s.writer.transport.queued = 10
    s.writer.release = asyncio.get_running_loop().create_future()
    first = asyncio.ensure_future(s.protocol_send(RawData(b"a")))
    await asyncio.sleep(0)
    assert s.writer.drains == 1 and s.send_lock.locked()  # a stalled reader: the write waits
    second = asyncio.ensure_future(s.protocol_send(RawData(b"b")))
    await asyncio.sleep(0)
    assert s.writer.written == [b"a"]  # not overtaking the send that holds the lock
    s.writer.release.set_result(None)
    await asyncio.gather(first, second)
    assert s.writer.written == [b"a", b"b"]


async def test_a_reset_connection_is_closed_as_hypercorn_does() -> None:
    s = server()
    s.writer.fail = True
    await s.protocol_send(RawData(b"a"))
    assert isinstance(s.protocol.events[0], Closed)
