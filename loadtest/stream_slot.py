"""One load-generator stream: an HTTP/1.1 connection read by h11, SSE blocks tallied cheaply.

The generator shares two cores with the server it measures, so each received block
costs a split and, for our own events, one `json.loads`; nothing else per event.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable

import h11

from flagstream_client.backoff import Backoff, retry_after_seconds
from flagstream_client.reconnect_policy import Rule, delay_seconds, rule_for, situation_of_ending, situation_of_status
from flagstream_client.types import BackoffPolicy

from .types import StreamTally

# Ids are opaque: taken whole up to the line end, never parsed.
# The server re-encodes `data` (compact JSON since strict_json); accept both spellings, or
# every event of a write would take the slow path and the generator, not the server, is measured.
OUR_PAYLOAD = rb'\{"k": ?"(\w)", ?"n": ?(\d+), ?"t": ?([0-9.e+-]+)\}'
OUR_EVENTS = re.compile(rb"id: ([^\n]+)\nevent: lt\ndata: " + OUR_PAYLOAD)
_PAYLOAD = re.compile(OUR_PAYLOAD)
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


class StreamProtocol(asyncio.Protocol):
    def __init__(self, slot: StreamSlot, request: bytes, http: h11.Connection) -> None:
        self.slot = slot
        self.request = request
        self.http = http
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        http = self.http
        http.receive_data(data)
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError:
                self.slot.totals.count(self.slot.totals.errors, "protocol")
                self.close()
                return
            kind = type(event)
            if kind is h11.Data:
                self._body(event.data)  # type: ignore[union-attr]
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return
            elif kind is h11.Response:
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}  # type: ignore[union-attr]
                self.slot.on_status(event.status_code, headers.get("retry-after"))  # type: ignore[union-attr]
                if event.status_code != 200:  # type: ignore[union-attr]
                    self.close()
                    return
            else:  # EndOfMessage, ConnectionClosed
                self.close()
                return

    def _body(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
        end = data.rfind(b"\n\n")
        if end < 0:
            self.buffer = data
            return
        complete, self.buffer = data[:end], data[end + 2 :]
        now = time.time()
        # A broadcast write carries hundreds of our events: one regex scan in C for all of
        # them; anything else in the write (connected, ping, a final event) takes the slow path.
        events = OUR_EVENTS.findall(complete)
        if events and len(events) == complete.count(b"\n\n") + 1:
            self.slot.on_ours(events, now)
            return
        on_block = self.slot.on_block
        for block in complete.split(b"\n\n"):
            on_block(block, now)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


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
        event = data = event_id = retry = None
        for line in block.split(b"\n"):
            name, _, value = line.partition(b": ")
            if name == b"data":
                data = value
            elif name == b"event":
                event = value
            elif name == b"id":
                event_id = value
            elif name == b"retry":
                retry = value
        if event == b"lt":
            self._delivered(event_id, data, now)
        elif event == b"connected":
            if event_id and self.last_event_id is None:
                # A fresh stream names its starting point: a reconnect resumes from there.
                self.last_event_id = event_id.decode()
            self._connected()
        elif event == b"ping" or event is None:
            return
        elif event == b"reset":
            self.tally.resets += 1
        else:
            name = event.decode()
            self.totals.count(self.totals.closes, name)
            retry_ms = int(retry) if retry else None
            self.follow(rule_for(situation_of_ending(name, retry_ms) or "stream-ended"), (retry_ms or 0) / 1000)

    def _connected(self) -> None:
        self.connected = True
        self.tally.connects += 1
        self.totals.connected += 1
        self.totals.handshakes.append(time.monotonic() - self._opened_at)
        if rule_for("connected").resets_backoff:
            self.backoff.succeeded()
        self._settle_handshake(True)
        self.on_connected(self)

    def on_ours(self, events: list[tuple[bytes, bytes, bytes, bytes]], now: float) -> None:
        """Many of our own events at once: (id, kind, n, sent_at) as matched by OUR_EVENTS.

        Order and exactly-once are checked on the generator's own sequence numbers (`n`);
        ids are opaque, so of them only this is checked: each event gets a new one."""
        tally, last = self.tally, self.last_id
        latencies = self.totals.latencies
        for event_id, kind, n, sent_at in events:
            if event_id == last:
                tally.out_of_order_ids += 1
            last = event_id
            (tally.user_ns if kind == b"u" else tally.broadcast_ns).append(int(n))
            latencies.append(now - float(sent_at))
        self.last_id = last
        self.last_event_id = last.decode()
        self.totals.received += len(events)

    def _delivered(self, event_id: bytes | None, data: bytes | None, now: float) -> None:
        payload = parse_payload(data)  # type: ignore[arg-type]
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


def parse_payload(data: bytes) -> tuple[bytes, int, float]:
    """(kind, n, sent_at) from the generator's own `{"k":"u","n":7,"t":1.5}`.

    The server writes `data` as compact JSON (strict_json), `json.dumps` spaces it: both
    match one regex; any other layout goes through `json.loads`.
    """
    match = _PAYLOAD.fullmatch(data)
    if match is not None:
        return match[1], int(match[2]), float(match[3])
    payload = json.loads(data)
    return payload["k"].encode(), int(payload["n"]), float(payload["t"])
