"""A TCP relay in front of a server that can swallow an answer: the request reaches the
server (and is stored), the publisher never hears back — what a restart or a proxy
timeout does to a request in flight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tests.support.redis_server import free_port


class AnswerSwallowingRelay:
    def __init__(self, upstream_port: int, swallow_first: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstream_port = upstream_port
        self._to_swallow = swallow_first
        self.swallowed = asyncio.Event()
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            writer.close()  # the server is down: the client sees the connection drop
            return
        swallow = self._to_swallow > 0
        self._to_swallow -= 1 if swallow else 0
        upstream = asyncio.create_task(_pipe(reader, up_writer))
        try:
            if swallow:
                await up_reader.read(1)  # the server has answered: the request was handled
                self.swallowed.set()
            else:
                await _pipe(up_reader, writer)
        finally:
            upstream.cancel()
            for w in (writer, up_writer):
                w.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AnswerSwallowingRelay]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        async with server:
            yield self


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()
