"""Calls of many connects in one script call, on a single Redis.

While one call is on its way, the calls made meanwhile queue and go out together as the
next one: a burst of 1,024 connects made ~2,000 lease and position calls, each ~100 µs of
redis-py's own CPU, where a few dozen calls now carry them. A lone connect waits one loop
turn more. Each caller gets its own answer or its own error; a failed call fails all of its
callers with `BrokerUnavailable` (the broker's one error contract).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..errors import STORE_UNAVAILABLE
from ..types import BrokerUnavailable

log = logging.getLogger(__name__)
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
            self._fail(self._queue, "the notification store is closing")  # none may wait forever
            self._queue = []

    async def _answer(self, waiting: list[tuple[Ask, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._send([ask for ask, _ in waiting])
        except asyncio.CancelledError:
            self._fail(waiting, "the notification store is closing")
            raise
        except BrokerUnavailable as exc:
            self._fail(waiting, str(exc))
            return
        except Exception:  # a defect, not the store: its callers fail, the next calls go on
            log.exception("a coalesced Redis call failed")
            self._fail(waiting, STORE_UNAVAILABLE)
            return
        for (_, future), answer in zip(waiting, answers):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    @staticmethod
    def _fail(waiting: list[tuple[Ask, asyncio.Future[Answer]]], message: str) -> None:
        for _, future in waiting:
            if not future.done():
                future.set_exception(BrokerUnavailable(message))
