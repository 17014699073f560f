"""Running a NotificationClient in the background and reading what it yields, with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from flagstream_client import Notification, NotificationClient


class Collected:
    def __init__(self, client: NotificationClient) -> None:
        self.client = client
        self.items: asyncio.Queue[Notification] = asyncio.Queue()

    async def next(self, timeout: float = 10.0) -> Notification:
        return await asyncio.wait_for(self.items.get(), timeout)

    async def take(self, n: int, timeout: float = 10.0) -> list[Notification]:
        return [await self.next(timeout) for _ in range(n)]

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached before the deadline")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(client: NotificationClient) -> AsyncIterator[Collected]:
    collected = Collected(client)

    async def pump() -> None:
        async for item in client:
            collected.items.put_nowait(item)

    task = asyncio.create_task(pump())
    try:
        yield collected
        if task.done():
            task.result()  # surface a client crash as the test failure
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
