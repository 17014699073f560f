"""Live traffic for the observability tests: streams held open and a steady flow of notifications."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from tests.support.inprocess import Served, Stream, open_stream


@contextlib.asynccontextmanager
async def traffic(served: Served) -> AsyncIterator[None]:
    """Three streams held open and a steady, growing flow of notifications to them."""

    async def drive() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            async with (
                open_stream(client, served.url, served.auth("alice")) as a,
                open_stream(client, served.url, served.auth("alice")) as b,
                open_stream(client, served.url, served.auth("bob")) as c,
            ):
                readers = [asyncio.create_task(_drain(s)) for s in (a, b, c)]
                try:
                    burst = 1
                    while True:
                        users = ["alice", "bob"]
                        await served.publish(
                            {"notifications": [{"user_id": users[n % 2], "data": {"n": n}} for n in range(burst)]}, client
                        )
                        burst = min(burst + 1, 50)
                        await asyncio.sleep(0.05)
                finally:
                    for reader in readers:
                        reader.cancel()

    task = asyncio.create_task(drive())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drain(stream: Stream) -> None:
    while True:
        await stream.next(timeout=60)
