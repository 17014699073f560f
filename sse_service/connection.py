"""One open stream: its bounded queue and the state its writer needs."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from .types import EventId, StoredEvent

QueueItem = StoredEvent | bytes
ABORT_STUCK_WRITE_AFTER = 2.0


def new_connection_id() -> str:
    # Time first, so that sorting ids sorts connections by age (the Redis lease script relies on it).
    return f"{time.time_ns() // 1000:016x}{os.urandom(4).hex()}"


@dataclass(frozen=True, slots=True)
class Closing:
    reason: str           # a metrics reason: client, overflow, disabled, reauth, shutdown, evicted, error
    final_event: bytes    # the last block written before the stream ends (b"" when the client left)


class Connection:
    """A stream's queue. Producers `offer`; the single writer `take`s everything at once.

    The queue counts events; when it is full the connection ends with `overflow` rather
    than grow or slow the producer down.
    """

    __slots__ = (
        "id", "user_id", "expires_at", "key_id", "ping_interval", "next_ping", "batch_window",
        "cursor", "closing", "sending", "task", "_queue", "_limit", "_waiter",
    )

    def __init__(self, user_id: str, *, queue_size: int, ping_interval: float,
                 batch_window: float, expires_at: float | None, now: float, key_id: str | None = None) -> None:
        self.id = new_connection_id()
        self.user_id = user_id
        self.expires_at = expires_at
        self.key_id = key_id        # the JWKS key its token was signed with (ends the stream if removed)
        self.ping_interval = ping_interval
        self.next_ping = now + ping_interval
        self.batch_window = batch_window
        self.cursor: EventId | None = None     # where the client stands (both streams)
        self.closing: Closing | None = None
        self.sending = False
        self.task: asyncio.Task[object] | None = None
        self._queue: list[QueueItem] = []
        self._limit = queue_size
        # A future only while the writer waits: an asyncio.Event would keep a deque
        # (~0.6 KiB) per idle stream for nothing.
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: QueueItem) -> bool:
        """Queue an item; False when the queue is full (the caller ends the connection)."""
        if self.closing is not None:
            return True
        if len(self._queue) >= self._limit:
            return False
        self._queue.append(item)
        if len(self._queue) == 1:
            self._wake()
        return True

    def close(self, closing: Closing) -> None:
        """End the stream after `closing.final_event`; what is still queued is dropped
        (the client resumes from history, so nothing is lost)."""
        if self.closing is None:
            self.closing = closing
            self._queue.clear()
            self._wake()
            if self.sending:
                # The writer is stuck on a socket that does not drain (a slow or vanished
                # client): give the write a moment, then cancel it.
                asyncio.get_running_loop().call_later(ABORT_STUCK_WRITE_AFTER, self._abort_stuck_write)

    def _abort_stuck_write(self) -> None:
        if self.sending and self.task is not None:
            self.task.cancel()

    async def take(self) -> list[QueueItem]:
        """Wait for something to write and return all of it (one write per wake)."""
        while not self._queue and self.closing is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.batch_window and self.closing is None:
            await asyncio.sleep(self.batch_window)
        items, self._queue = self._queue, []
        return items

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def queued(self) -> int:
        return len(self._queue)
