"""One load-generator stream: an HTTP/1.1 connection read by h11, SSE blocks tallied cheaply.

The generator shares two cores with the server it measures, so a write of our own events
costs one regex scan (`sse_reader`) and a loop over its matches; nothing else per event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import h11

from flagstream_client.backoff import Backoff, retry_after_seconds
from flagstream_client.reconnect_policy import Rule, delay_seconds, rule_for, situation_of_ending, situation_of_status
from flagstream_client.types import BackoffPolicy

from .sse_reader import Event, Ours, StreamProtocol, parse_block, parse_payload
from .types import StreamTally

STORM_BACKOFF = BackoffPolicy(minimum=0.5, maximum=10.0, factor=2.0)
# The generator reads no inbox: where the shared policy says "poll", it waits this long (a
# client's poll round) and tries the stream again.
POLL_ROUND = STORM_BACKOFF.maximum


class WorkerTotals:
    """Counts shared by every stream of one worker process."""

    def __init__(self) -> None:
        self.connected = 0
        self.received = 0
        self.latencies: list[float] = []
        self.rejections: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.closes: dict[str, int] = {}
        self.handshakes: list[float] = []

    def count(self, table: dict, key: object) -> None:
        table[key] = table.get(key, 0) + 1


class StreamSlot:
    """A stream that stays open: reconnects with Last-Event-ID and backoff until stopped."""

    def __init__(
        self,
        user_id: str,
        token: str,
        host: str,
        port: int,
        totals: WorkerTotals,
        handshakes: asyncio.Semaphore,
        on_connected: Callable[[StreamSlot], None],
    ) -> None:
        self.tally = StreamTally(user_id)
        self.token = token
        self.host, self.port = host, port
        self.totals = totals
        self.handshakes = handshakes
        self.on_connected = on_connected
        self.last_event_id: str | None = None
        self.last_id = b""  # the last event id received (opaque bytes)
        self.backoff = Backoff(STORM_BACKOFF)
        self.protocol: StreamProtocol | None = None
        self.connected = False
        self.failed = False
        self.stopping = False
        self.next_delay: float | None = None  # set by whatever ended the connection
        self.handshake: asyncio.Future[bool] | None = None
        self._opened_at = 0.0

    # -- the connection loop ----------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping and not self.failed:
            if self.tally.connects and self.last_event_id is None:
                self.tally.unanchored_reconnects += 1
            self.next_delay = None
            self.handshake = loop.create_future()
            async with self.handshakes:
                self._opened_at = time.monotonic()
                try:
                    _, protocol = await loop.create_connection(self._protocol, self.host, self.port)
                except OSError as exc:
                    self.totals.count(self.totals.errors, type(exc).__name__)
                    self._settle_handshake(False)
                    await asyncio.sleep(self.backoff.next_delay())
                    continue
                self.protocol = protocol
                await asyncio.wait([self.handshake, protocol.done], return_when=asyncio.FIRST_COMPLETED)
            await protocol.done
            self._settle_handshake(False)
            if self.connected:
                self.connected = False
                self.totals.connected -= 1
            if self.stopping or self.failed:
                return
            if self.next_delay is None:  # the server went away without a last event
                self.totals.count(self.totals.errors, "stream_ended")
                self.next_delay = self.backoff.next_delay()
            if self.next_delay:
                await asyncio.sleep(self.next_delay)

    def _protocol(self) -> StreamProtocol:
        http = h11.Connection(h11.CLIENT)
        headers = [
            ("Host", f"{self.host}:{self.port}"),
            ("Authorization", f"Bearer {self.token}"),
            ("Accept", "text/event-stream"),
        ]
        if self.last_event_id:
            headers.append(("Last-Event-ID", self.last_event_id))
        request = http.send(h11.Request(method="GET", target="/v1/stream", headers=headers)) + http.send(h11.EndOfMessage())
        return StreamProtocol(self, request, http)

    def reconnect_now(self) -> None:
        """Drop the connection and come straight back (a client-side storm)."""
        self.next_delay = 0.0
        if self.protocol is not None:
            self.protocol.close()

    def stop(self) -> None:
        self.stopping = True
        if self.protocol is not None:
            self.protocol.close()

    def _settle_handshake(self, ok: bool) -> None:
        if self.handshake is not None and not self.handshake.done():
            self.handshake.set_result(ok)

    # -- what the server says -----------------------------------------------------------------
    def on_status(self, status: int, retry_after: str | None) -> None:
        if status == 200:
            return
        self.totals.count(self.totals.rejections, status)
        self.follow(rule_for(situation_of_status(status)), retry_after_seconds(retry_after))
        self._settle_handshake(False)

    def follow(self, rule: Rule, told: float = 0.0) -> None:
        """Do what the shared reconnect policy says, as far as a generator can (`told`: Retry-After or retry:).

        It holds one fixed token and reads no inbox: where the policy asks for a fresh token
        it stops; where it asks to poll it waits a poll round; where it drops the cursor it
        reconnects without one (what was published meanwhile is then counted lost)."""
        if rule.action == "refresh-token-then-reconnect":
            self.failed = True
            return
        if rule.action == "drop-cursor-and-refetch-inbox":
            self.last_event_id = None
        delay = delay_seconds(rule, self.backoff, told=told, poll_jitter_window=POLL_ROUND)
        self.next_delay = max(delay, POLL_ROUND) if rule.action == "poll" else delay

    def on_block(self, block: bytes, now: float) -> None:
        """One block of LF-ended lines, without its blank line."""
        event = parse_block(block)
        if event is not None:
            self.on_event(event, now)

    def on_event(self, event: Event, now: float) -> None:
        event_id, name, data, retry = event
        if data is None:  # no data line: not an event (WHATWG), but its id is the cursor now
            if event_id is not None:
                self.last_event_id = event_id.decode()
        elif name == b"lt":
            self._delivered(event_id, data, now)
        elif name == b"connected":
            if event_id and self.last_event_id is None:
                # A fresh stream names its starting point: a reconnect resumes from there.
                self.last_event_id = event_id.decode()
            self._connected()
        elif name == b"ping" or name == b"message":
            return
        elif name == b"reset":
            self.tally.resets += 1
        else:
            ending = name.decode()
            self.totals.count(self.totals.closes, ending)
            self.follow(rule_for(situation_of_ending(ending, retry) or "stream-ended"), (retry or 0) / 1000)

    def _connected(self) -> None:
        self.connected = True
        self.tally.connects += 1
        self.totals.connected += 1
        self.totals.handshakes.append(time.monotonic() - self._opened_at)
        if rule_for("connected").resets_backoff:
            self.backoff.succeeded()
        self._settle_handshake(True)
        self.on_connected(self)

    def on_ours(self, events: list[Ours], now: float) -> None:
        """Many of our own events at once: (id, kind, n, sent_at) as the fast scan matched them.

        Order and exactly-once are checked on the generator's own sequence numbers (`n`);
        ids are opaque, so of them only this is checked: each event gets a new one."""
        tally, last = self.tally, self.last_id
        user, broadcast, latency = tally.user_ns.append, tally.broadcast_ns.append, self.totals.latencies.append
        for event_id, kind, n, sent_at in events:
            if event_id == last:
                tally.out_of_order_ids += 1
            last = event_id
            (user if kind == b"u" else broadcast)(int(n))
            latency(now - float(sent_at))
        self.last_id = last
        self.last_event_id = last.decode()
        self.totals.received += len(events)

    def _delivered(self, event_id: bytes | None, data: bytes, now: float) -> None:
        payload = parse_payload(data)
        if event_id is not None:
            if event_id == self.last_id:
                self.tally.out_of_order_ids += 1
            self.last_id = event_id
            self.last_event_id = event_id.decode()
        kind, n, sent_at = payload
        (self.tally.user_ns if kind == b"u" else self.tally.broadcast_ns).append(n)
        totals = self.totals
        totals.received += 1
        totals.latencies.append(now - sent_at)
