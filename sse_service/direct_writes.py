"""Hypercorn's per-write path for stream bodies, without the ceremony a healthy write does not need.

Each SSE event is one ASGI body message. Hypercorn's `HTTPStream` makes a `Body` event of
it, its `H11Protocol` an h11 `Data` event (h11 runs its state machine and writes the
chunk's framing), then `TCPServer.protocol_send` takes a lock and awaits `drain()`: about
5 µs of Python per event before the socket write.

- `DirectBodies`: a body message that continues a response (`more_body`) goes straight to
  the framing and the write below when both apply; any other message, as before.
- `DirectChunks`: a body chunk of a chunked response in h11's SEND_BODY state is framed
  here (`<hex length>\\r\\n<data>\\r\\n`, exactly h11's ChunkedWriter); a chunk changes no
  h11 state. Anything else (the response head, a Content-Length body, the end of the
  body, any other state) goes through h11 as before.
- `DirectWrites`: a write whose bytes all went to the kernel, with no other send under way,
  is done at once; a write that leaves bytes queued (a slow or stalled reader) waits for the
  drain under the lock, as before, so backpressure and the stuck-write deadline work the
  same. Order is kept: a write never overtakes a send that holds the lock.
"""

from __future__ import annotations

from h11._writers import ChunkedWriter
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.events import Body
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream
from hypercorn.typing import ASGISendEvent
from hypercorn.utils import suppress_body


def chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body: what h11's ChunkedWriter writes for it."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class DirectWrites(TCPServer):
    async def protocol_send(self, event: Event) -> None:
        if type(event) is not RawData or not await self.write(event.data):
            await super().protocol_send(event)

    async def write(self, data: bytes) -> bool:
        """Write `data` now, draining (under the lock) only when bytes stay queued. False,
        having written nothing, when another send holds the lock or the transport is closing:
        Hypercorn's own path then orders and handles it."""
        writer = self.writer
        transport = writer.transport
        if self.send_lock.locked() or transport.is_closing():
            return False
        try:
            writer.write(data)
            if transport.get_write_buffer_size():
                async with self.send_lock:
                    await writer.drain()
        except (ConnectionError, RuntimeError):
            await self.protocol.handle(Closed())
        return True


class DirectChunks(H11Protocol):
    def in_chunked_body(self) -> bool:
        # h11 holds a ChunkedWriter exactly while our side is in SEND_BODY with chunked
        # framing (it swaps its writer on every change of our state): one check says both.
        return type(getattr(self.connection, "_writer", None)) is ChunkedWriter

    async def stream_send(self, event: StreamEvent) -> None:
        if type(event) is Body and self.in_chunked_body():
            if event.data:  # an empty chunk would end the body: h11 writes nothing for it either
                await self.send(RawData(data=chunk(event.data)))
        else:
            await super().stream_send(event)


class DirectBodies(HTTPStream):
    async def app_send(self, message: ASGISendEvent | None) -> None:
        if message is not None and message["type"] == "http.response.body" and message.get("more_body", False):
            protocol = getattr(self.send, "__self__", None)
            server = getattr(getattr(protocol, "send", None), "__self__", None)
            if (
                self.state is ASGIHTTPState.RESPONSE
                and isinstance(protocol, DirectChunks)
                and isinstance(server, DirectWrites)
                and protocol.in_chunked_body()
            ):
                body = message.get("body", b"")
                if not body or suppress_body(self.scope["method"], int(self.response["status"])):
                    return
                if await server.write(chunk(bytes(body))):
                    return
        await super().app_send(message)
