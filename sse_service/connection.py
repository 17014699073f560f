"""One open stream: its bounded queue and the state its writer needs."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from .types import EventId, StoredEvent

ABORT_STUCK_WRITE_AFTER = 2.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
EVENT_OVERHEAD = 64  # bytes counted per queued event beyond its data (name, id line, framing)


def new_connection_id() -> str:
    # Time first, so that sorting ids sorts connections by age (the Redis lease script relies on it).
    return f"{time.time_ns() // 1000:016x}{os.urandom(4).hex()}"


@dataclass(frozen=True, slots=True)
class Ping:
    """A keep-alive the hub's timer queues: the stream's own control item, never raw bytes."""

    wire: bytes  # its SSE block, encoded once per tick for every stream (stream_encoding.ping)


QueueItem = StoredEvent | Ping


@dataclass(frozen=True, slots=True)
class Closing:
    reason: str  # a metrics reason: client, overflow, disabled, reauth, shutdown, evicted, error
    final_event: bytes  # the last block written before the stream ends (b"" when the client left)


class Connection:
    """A stream's queue. Producers `offer`; the single writer `take`s everything at once.

    The queue is bounded so that only a reader that is really behind is cut (`overflow`,
    and it resumes from history) rather than the queue growing or the producer slowing:
    - at most `queue_size` events queued *while a write is blocked* on the socket (the
      client is not reading what it was sent): a burst handed to an idle writer, however
      many events, goes out in its next write;
    - at most `max_bytes` of queued payload, whatever the writer is doing;
    - and the hub's timer cuts a connection whose queue or write has made no progress for
      `QUEUE_MAX_DELAY` (`stalled_since`).

    The queue holds each event once, each history stream's in store order (the hub offers an
    event once per stream; brokers fan out in store order): the writer relies on it.
    An event with a `collapse_key` replaces a queued, undelivered one of its stream with
    the same key: the older one leaves the queue and the newer one goes to its end, so the
    events of each history stream stay in offset order and the writer's cursor never
    passes an event it has not written. With a `collapse_window`, the first such event
    holds the next write back up to that long, so newer ones can replace it.
    """

    __slots__ = (
        "id",
        "user_id",
        "expires_at",
        "key_id",
        "ping_interval",
        "next_ping",
        "batch_window",
        "collapse_window",
        "cursor",
        "closing",
        "sending",
        "write_deadline",
        "_queue",
        "_limit",
        "_waiter",
        "_keyed",
        "_hold_until",
        "_bytes",
        "_max_bytes",
        "stalled_since",
    )

    def __init__(
        self,
        user_id: str,
        *,
        queue_size: int,
        ping_interval: float,
        batch_window: float,
        expires_at: float | None,
        now: float,
        key_id: str | None = None,
        collapse_window: float = 0.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.id = new_connection_id()
        self.user_id = user_id
        self.expires_at = expires_at
        self.key_id = key_id  # the JWKS key its token was signed with (ends the stream if removed)
        self.ping_interval = ping_interval
        self.next_ping = now + ping_interval
        self.batch_window = batch_window
        self.collapse_window = collapse_window
        self.cursor: EventId | None = None  # where the client stands (both streams)
        self.closing: Closing | None = None
        self.sending = False  # the writer is in a write (set and cleared by the writer)
        # The writer's own deadline around its writes (an asyncio.timeout it entered): closing
        # a stream whose write is stuck brings it forward, and only that write is aborted.
        self.write_deadline: asyncio.Timeout | None = None
        self._queue: list[QueueItem] = []
        self._limit = queue_size
        self._bytes = 0
        self._max_bytes = max_bytes
        self.stalled_since: float | None = None  # set by the hub's timer while queued or writing
        # A future only while the writer waits: an asyncio.Event would keep a deque
        # (~0.6 KiB) per idle stream for nothing.
        self._waiter: asyncio.Future[None] | None = None
        self._keyed: dict[tuple[bool, str], StoredEvent] | None = None  # queued events by collapse key
        self._hold_until: float | None = None  # loop time the held write is due

    def offer(self, item: QueueItem) -> bool:
        """Queue an item; False when the queue is full (the caller ends the connection)."""
        if self.closing is not None:
            return True
        if type(item) is StoredEvent:
            if item.collapse_key is not None:
                self._collapse(item)
            self._bytes += len(item.data_json) + EVENT_OVERHEAD
        else:
            self._bytes += len(item.wire)
        if not self._fits(1):
            return False
        self._queue.append(item)
        if len(self._queue) == 1:
            self._wake()
        return True

    def offer_run(self, events: list[StoredEvent], size: int) -> bool:
        """Queue events without collapse keys at once (`size`: their bytes as `offer` counts
        them); the same answer as offering them one by one: False when any would not fit."""
        if self.closing is not None:
            return True
        self._bytes += size
        if not self._fits(len(events)):
            return False
        queue = self._queue
        queue += events
        if len(queue) == len(events):
            self._wake()
        return True

    def _fits(self, adding: int) -> bool:
        """Whether `adding` more items fit, their bytes already counted: the byte bound always,
        the item bound while a write is under way (a reader that is really behind)."""
        return self._bytes <= self._max_bytes and not (self.sending and len(self._queue) + adding > self._limit)

    def _collapse(self, event: StoredEvent) -> None:
        """Take the queued event `event` replaces out of the queue, and remember `event`."""
        keyed = self._keyed
        if keyed is None:
            keyed = self._keyed = {}
        key = (event.user_id is None, event.collapse_key or "")
        replaced = keyed.get(key)
        keyed[key] = event
        if replaced is not None:
            self._queue.remove(replaced)  # identity: StoredEvent has no __eq__
            self._bytes -= len(replaced.data_json) + EVENT_OVERHEAD
        elif self.collapse_window and self._hold_until is None:
            self._hold_until = asyncio.get_running_loop().time() + self.collapse_window

    def close(self, closing: Closing) -> None:
        """End the stream after `closing.final_event`; what is still queued is dropped
        (the client resumes from history, so nothing is lost)."""
        if self.closing is None:
            self.closing = closing
            self._queue.clear()
            self._keyed = None
            self._bytes = 0
            self._wake()
            deadline = self.write_deadline
            if self.sending and deadline is not None:
                # The writer may be stuck on a socket that does not drain (a slow or vanished
                # client): its write gets a moment more, then its own deadline aborts it.
                deadline.reschedule(asyncio.get_running_loop().time() + ABORT_STUCK_WRITE_AFTER)

    async def take(self) -> list[QueueItem]:
        """Wait for something to write and return all of it (one write per wake).

        The stream's writer does the same in its own frame (`waiter`, `hold`, `take_now`):
        a coroutine here would be one more frame held by every idle stream."""
        while (waiter := self.waiter()) is not None:
            await waiter
        hold = self.hold()
        if hold > 0:
            await asyncio.sleep(hold)
        return self.take_now()

    def waiter(self) -> asyncio.Future[None] | None:
        """None when there is something to take (or the stream is closing); else a future
        that the next `offer` or `close` completes: await it, then ask again."""
        if self._queue or self.closing is not None:
            return None
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def hold(self) -> float:
        """Seconds to hold the write back before `take_now` (batch and collapse windows)."""
        if self.closing is not None:
            return 0.0
        wait = self.batch_window
        if self._hold_until is not None:
            wait = max(wait, self._hold_until - asyncio.get_running_loop().time())
        return wait

    def take_now(self) -> list[QueueItem]:
        """Everything queued, emptying the queue."""
        items, self._queue = self._queue, []
        self._keyed = self._hold_until = self.stalled_since = None
        self._bytes = 0
        return items

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def behind(self, now: float, max_delay: float) -> bool:
        """Called by the hub's timer: True when this stream has had something queued or a
        write pending, with no write completed, for longer than `max_delay` (plus its own
        batch/collapse windows, which hold writes back on purpose)."""
        if not self._queue and not self.sending:
            self.stalled_since = None
            return False
        if self.stalled_since is None:
            self.stalled_since = now
            return False
        return now - self.stalled_since > max_delay + self.batch_window + self.collapse_window
