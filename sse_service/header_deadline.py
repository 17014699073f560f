"""A deadline on the request head, which Hypercorn does not have on its own.

Hypercorn ends a connection that stays idle for `keep_alive_timeout` (75 s here, longer
than the idle timeout of the proxies in front, so that they never reuse a connection we
are closing). But a client that trickles its request head one line at a time is "idle"
to it all along: it held the connection for those 75 s. With the deadline:

- a new connection must deliver its first request head within `HEADER_TIMEOUT`;
- on a kept-alive connection, once the first byte of the next request arrives, its head
  must be complete within `HEADER_TIMEOUT` (silence between requests is still allowed
  up to `keep_alive_timeout`).

Once a request has started — a stream may last hours — nothing here applies. The guard
is Hypercorn's own per-connection `TCPServer` with a different idle timer (Hypercorn is
pinned below 0.19; tests/integration/test_slow_headers.py pins the behaviour).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Event, Updated


class HeaderDeadlineTCPServer(TCPServer):
    def __init__(
        self,
        app: Any,
        loop: asyncio.AbstractEventLoop,
        config: Any,
        context: Any,
        state: Any,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(app, loop, config, context, state, reader, writer)
        self._bytes_arrived = asyncio.Event()
        self._served_a_request = False
        self.reader = _ArrivalNotingReader(reader, self._bytes_arrived)  # type: ignore[assignment]

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated) and not event.idle:
            self._served_a_request = True
        await super().protocol_send(event)

    async def _idle_timeout(self) -> None:
        header_timeout = getattr(self.config, "header_timeout", None)
        if header_timeout is None:
            await super()._idle_timeout()
            return
        # Cancelled by Hypercorn as soon as a complete request head has arrived.
        self._bytes_arrived.clear()
        terminated = self.context.terminated
        if self._served_a_request:
            await _first_of(self._bytes_arrived, terminated, timeout=self.config.keep_alive_timeout)
        if self._bytes_arrived.is_set() or not self._served_a_request:
            await _first_of(terminated, timeout=header_timeout)
        await asyncio.shield(self._initiate_server_close())


class _ArrivalNotingReader:
    """The connection's reader, noting when bytes of a request arrive."""

    def __init__(self, reader: asyncio.StreamReader, arrived: asyncio.Event) -> None:
        self._reader = reader
        self._arrived = arrived

    def at_eof(self) -> bool:
        return self._reader.at_eof()

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        if data:
            self._arrived.set()
        return data


async def _first_of(*events: Any, timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def install_header_deadline() -> None:
    """Make Hypercorn's asyncio worker build HeaderDeadlineTCPServer for every connection."""
    hypercorn_run.TCPServer = HeaderDeadlineTCPServer  # type: ignore[attr-defined,misc,unused-ignore]
