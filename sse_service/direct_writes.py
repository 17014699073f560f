"""Hypercorn's connection writes, without the lock and drain when the kernel took the bytes.

Hypercorn's `TCPServer.protocol_send` takes a lock and awaits `drain()` around every write:
two coroutines and a lock per SSE event, though a write to a healthy socket leaves nothing
queued. Here a write whose bytes all went to the kernel, with no other send under way, is
done at once; a write that leaves bytes queued (a slow or stalled reader) waits for the
drain under the lock, as before, so backpressure and the stuck-write deadline work the same.
Order is kept: a write never overtakes a send that holds the lock.
"""

from __future__ import annotations

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData


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
