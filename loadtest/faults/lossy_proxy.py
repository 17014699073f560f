"""A TCP proxy for HTTP/1.1 publishes that loses every other response: the request reaches
the service (and is stored), then the proxy hangs up before the publisher hears back.

Only what a publisher sends is understood: requests and responses with Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + (await reader.readexactly(length) if length else b"")


class LossyProxy:
    def __init__(self, upstream_host: str, upstream_port: int, lose_every: int = 2) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lose_every = lose_every
        self._server: asyncio.Server | None = None
        self.forwarded = 0
        self.lost = 0

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_message(reader)
                up_reader, up_writer = await asyncio.open_connection(*self._upstream)
                try:
                    up_writer.write(request)
                    await up_writer.drain()
                    response = await _read_message(up_reader)
                finally:
                    up_writer.close()
                self.forwarded += 1
                if self.forwarded % self._lose_every == 0:
                    self.lost += 1
                    return  # stored upstream; the publisher never hears
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
