"""Direct writes: a write the kernel took at once skips Hypercorn's lock and drain; a write
that leaves bytes queued drains under the lock (backpressure unchanged); order is kept.
Direct chunks: a body chunk is framed exactly as h11 frames it, and only chunks skip h11."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import pytest
from hypercorn.events import Closed, RawData
from hypercorn.protocol.events import Body, EndBody

from sse_service.direct_writes import DirectChunks, DirectWrites


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


def h11_in_body(chunked: bool) -> h11.Connection:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.next_event()
    connection.next_event()
    headers = [("content-type", "text/event-stream")] if chunked else [("content-length", "3")]
    connection.send(h11.Response(status_code=200, headers=headers))
    return connection


def chunks_server(connection: h11.Connection) -> tuple[Any, list[bytes]]:
    sent: list[bytes] = []

    async def send(event: Any) -> None:
        sent.append(event.data)

    protocol = DirectChunks.__new__(DirectChunks)
    protocol.connection = connection
    protocol.send = send
    return protocol, sent


@pytest.mark.parametrize("data", [b"x", b"id: a\nevent: n\ndata: 1\n\n", bytes(range(256)) * 70, b""])
async def test_a_body_chunk_is_framed_exactly_as_h11_frames_it(data: bytes) -> None:
    protocol, sent = chunks_server(h11_in_body(chunked=True))
    await protocol.stream_send(Body(stream_id=1, data=data))
    assert b"".join(sent) == (h11_in_body(chunked=True).send(h11.Data(data=data)) or b"")
    assert protocol.connection.our_state is h11.SEND_BODY


async def test_a_content_length_body_and_the_end_of_a_body_still_go_through_h11() -> None:
    protocol, sent = chunks_server(h11_in_body(chunked=False))
    await protocol.stream_send(Body(stream_id=1, data=b"abc"))
    await protocol.stream_send(EndBody(stream_id=1))
    assert sent == [b"abc", b""] and protocol.connection.our_state is h11.DONE
    protocol, sent = chunks_server(h11_in_body(chunked=True))
    await protocol.stream_send(Body(stream_id=1, data=b"abc"))
    await protocol.stream_send(EndBody(stream_id=1))
    assert sent == [b"3\r\nabc\r\n", b"0\r\n\r\n"] and protocol.connection.our_state is h11.DONE


def test_serving_builds_the_direct_classes_for_every_http1_connection_and_request() -> None:
    from hypercorn import protocol
    from hypercorn.asyncio import run
    from hypercorn.protocol import h11 as hypercorn_h11

    from sse_service.direct_writes import DirectBodies
    from sse_service.server import ServingTCPServer, install_connection_server

    install_connection_server()
    assert run.TCPServer is ServingTCPServer and issubclass(ServingTCPServer, DirectWrites)
    assert protocol.H11Protocol is DirectChunks and hypercorn_h11.HTTPStream is DirectBodies


async def test_a_closing_transport_is_left_to_hypercorns_way() -> None:
    s = server()
    s.writer.transport.closing = True
    assert await s.write(b"a") is False and s.writer.written == []
    await s.protocol_send(RawData(b"a"))  # Hypercorn's own path: lock, write, drain
    assert s.writer.written == [b"a"] and s.writer.drains == 1


async def test_only_a_body_in_progress_is_framed_here() -> None:
    connection = h11_in_body(chunked=True)
    protocol, _ = chunks_server(connection)
    assert protocol.in_chunked_body()
    connection.send(h11.EndOfMessage())
    assert connection.our_state is h11.DONE and not protocol.in_chunked_body()
    failed = h11_in_body(chunked=True)
    failed.send_failed()
    assert failed.our_state is h11.ERROR and not chunks_server(failed)[0].in_chunked_body()
