"""Hypercorn's per-write path for stream bodies, without the ceremony a healthy write does not need.

Each SSE event is one ASGI body message. Hypercorn turns it into an h11 `Data` event (h11
runs its state machine and writes the chunk's framing), then `TCPServer.protocol_send`
takes a lock and awaits `drain()`: about 3.5 µs of Python per event before the socket write.

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

import h11
from h11._writers import ChunkedWriter
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.events import Body
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.h11 import H11Protocol


class DirectChunks(H11Protocol):
    async def stream_send(self, event: StreamEvent) -> None:
        if type(event) is Body:
            connection = self.connection
            if connection.our_state is h11.SEND_BODY and type(getattr(connection, "_writer", None)) is ChunkedWriter:
                data = event.data
                if data:  # an empty chunk would end the body: h11 writes nothing for it either
                    await self.send(RawData(data=b"%x\r\n%b\r\n" % (len(data), data)))
                return
        await super().stream_send(event)


class DirectWrites(TCPServer):
    async def protocol_send(self, event: Event) -> None:
        if type(event) is RawData and not self.send_lock.locked():
            writer = self.writer
            transport = writer.transport
            if not transport.is_closing():
                try:
                    writer.write(event.data)
                    if not transport.get_write_buffer_size():
                        return
                    async with self.send_lock:
                        await writer.drain()
                except (ConnectionError, RuntimeError):
                    await self.protocol.handle(Closed())
                return
        await super().protocol_send(event)
