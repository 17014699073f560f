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
from ssl import SSLError
from typing import Any

from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.asyncio.worker_context import AsyncioSingleTask
from hypercorn.events import Closed, RawData


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
        # Per connection, so kept small: a flag and a future only while waiting (an
        # asyncio.Event would keep a deque per open stream), and no wrapper around the
        # writes (a request starting is seen where Hypercorn stops the idle timer).
        self.arrived = False  # bytes of a request arrived since the idle period began
        self.arrival: asyncio.Future[None] | None = None
        self._served_a_request = False
        self.idle_task = _IdleTimer(self)

    def request_started(self) -> None:
        self._served_a_request = True

    async def _read_data(self) -> None:
        """Hypercorn's read loop, noting each arrival of request bytes. Without a read
        timeout (the default) it awaits the read itself: no `wait_for` frame per connection."""
        reader, timeout = self.reader, self.config.read_timeout
        while not reader.at_eof():
            try:
                data = await (reader.read(MAX_RECV) if timeout is None else asyncio.wait_for(reader.read(MAX_RECV), timeout))
            except (ConnectionError, OSError, TimeoutError, SSLError):
                break
            if data:
                self.bytes_arrived()
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())

    def bytes_arrived(self) -> None:
        self.arrived = True
        arrival = self.arrival
        if arrival is not None and not arrival.done():
            arrival.set_result(None)

    async def _idle_timeout(self) -> None:
        header_timeout = getattr(self.config, "header_timeout", None)
        if header_timeout is None:
            await super()._idle_timeout()
            return
        # Cancelled by Hypercorn as soon as a complete request head has arrived.
        self.arrived = False
        terminated = self.context.terminated
        if self._served_a_request:
            self.arrival = asyncio.get_running_loop().create_future()
            try:
                await _first_of(self.arrival, terminated.wait(), timeout=self.config.keep_alive_timeout)
            finally:
                self.arrival = None
        if self.arrived or not self._served_a_request:
            await _first_of(terminated.wait(), timeout=header_timeout)
        await asyncio.shield(self._initiate_server_close())


class _IdleTimer(AsyncioSingleTask):
    """Hypercorn's idle timer, noting when it is stopped: a request has started."""

    def __init__(self, server: HeaderDeadlineTCPServer) -> None:
        super().__init__()
        self._server = server

    async def stop(self) -> None:
        self._server.request_started()
        await super().stop()


async def _first_of(*awaitables: Any, timeout: float) -> None:
    waiters = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
