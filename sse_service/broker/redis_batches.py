"""Calls of many connects in one script call, on a single Redis.

While one call is on its way, the calls made meanwhile queue and go out together as the
next one: a burst of 1,024 connects made ~2,000 lease and position calls, each ~100 µs of
redis-py's own CPU, where a few dozen calls now carry them. A lone connect waits one loop
turn more. Each caller gets its own answer or its own error; a failed call fails all of its
callers with `BrokerUnavailable` (the broker's one error contract).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..types import BrokerUnavailable

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")
MOST_PER_CALL = 256  # bounds how long one script call holds Redis


class Coalesced(Generic[Ask, Answer]):
    """`await coalesced.ask(x)`: x goes out with the others asked meanwhile, through `send`,
    which answers in order, an exception in place of an answer failing only its caller."""

    def __init__(self, send: Callable[[list[Ask]], Awaitable[list[Answer | BaseException]]]) -> None:
        self._send = send
        self._queue: list[tuple[Ask, asyncio.Future[Answer]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def ask(self, ask: Ask) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append((ask, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued(), name="redis-coalesced-calls")
        return await future

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)

    async def _send_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MOST_PER_CALL], self._queue[MOST_PER_CALL:]
                waiting = [(ask, future) for ask, future in batch if not future.done()]  # not cancelled
                if waiting:
                    await self._answer(waiting)
        finally:
            self._sender = None
            for _, future in self._queue:  # closed with calls queued: none may wait forever
                if not future.done():
                    future.set_exception(BrokerUnavailable("the notification store is closing"))
            self._queue = []

    async def _answer(self, waiting: list[tuple[Ask, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._send([ask for ask, _ in waiting])
        except BrokerUnavailable as exc:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(BrokerUnavailable(str(exc)))
            return
        except BaseException:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(BrokerUnavailable("the notification store is closing"))
            raise
        for (_, future), answer in zip(waiting, answers):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
