"""The generator's SSE reader: WHATWG HTML "Interpreting an event stream", on bytes.

`StreamProtocol` reads one stream's HTTP/1.1 response with h11 and feeds its body, write by
write, to an `EventStreamReader`, which tells its `StreamSlot` what the blocks say.

The generator shares two cores with the server it measures, so the common case costs one
regex scan in C per write: a write made only of flagstream's own blocks, fields in the order
flagstream writes them (`id: …\\nevent: lt\\ndata: {…}\\n\\n`) or with `event` first, is
tallied from that scan. Anything else (pings, other spellings) is read field by field:

- lines end at CRLF, LF or CR (CR and CRLF are turned into LF first, one `bytes.replace`
  each, and only when the write holds a CR); a UTF-8 BOM at the stream's start is dropped;
- a line is split at its first colon and ONE leading space of the value is dropped; a line
  starting with a colon is a comment, a line without one is a field with an empty value;
- `data` lines are joined with LF; `id` counts unless it holds NUL; `retry` only if all
  ASCII digits; unknown fields are ignored; a blank line ends the block.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import h11

if TYPE_CHECKING:
    from .stream_slot import StreamSlot

# Ids are opaque: taken whole up to the line end, never parsed.
# The server re-encodes `data` (compact JSON since strict_json); accept both spellings, or
# every event of a write would take the slow path and the generator, not the server, is measured.
OUR_PAYLOAD = rb'\{"k": ?"(\w)", ?"n": ?(\d+), ?"t": ?([0-9.e+-]+)\}'
# One whole block of ours: it starts the scanned text or follows a blank line (the two
# lookbehinds, placed after the literal `id: ` so the scan still searches for that literal),
# and ends with its blank line. With as many matches as `\n\n` in the text, the text is
# nothing but such blocks (and at most one extra blank line between two). Exactly as
# flagstream writes them: an optional space or `[^\n\0]` would cost 5-10 % more per scan.
OUR_EVENTS = re.compile(rb"id: (?<![^\n]id: )(?<![^\n]\nid: )([^\n]+)\nevent: lt\ndata: " + OUR_PAYLOAD + rb"\n\n")
# `event` first, each space optional (Node's better-sse writes `event:lt`, `id:…`, `data:…`);
# the same groups. Possessive after `id:`, so that `id: ` + LF never reads as the id " ".
OUR_EVENTS_EVENT_FIRST = re.compile(
    rb"event:(?<![^\n]event:)(?<![^\n]\nevent:) ?lt\nid: ?+([^\n]+)\ndata: ?" + OUR_PAYLOAD + rb"\n\n"
)
_PAYLOAD = re.compile(OUR_PAYLOAD)
BOM = b"\xef\xbb\xbf"

Ours = tuple[bytes, bytes, bytes, bytes]  # (id, kind, n, sent_at) as matched by OUR_EVENTS


# One block's fields: (id, event, data, retry). `data` None: no data line, so no event is
# dispatched (WHATWG), yet its id sets the last event id. `id` None: no (valid) id line, the
# last id stands. `event` is b"message" where the block names none. A plain tuple: a
# NamedTuple's constructor would add ≈ 150 ns to a block's ≈ 500 ns parse.
Event = tuple[bytes | None, bytes, bytes | None, int | None]
_FIELDS = frozenset((b"data", b"event", b"id", b"retry"))


def parse_block(block: bytes) -> Event | None:
    """The fields of one block of LF-ended lines (no blank line in it); None if it has
    neither data, id nor retry."""
    event = b""
    data: bytes | None = None
    event_id: bytes | None = None
    retry: int | None = None
    for line in block.split(b"\n"):
        # A known name before the first `: ` is the spec's split (the name holds no colon) with
        # its one space dropped, in one call; anything else is split at its first colon. A
        # known name found that way has no space after the colon (else the first call had it).
        name, _, value = line.partition(b": ")
        if name not in _FIELDS:
            name, _, value = line.partition(b":")
        if name == b"data":
            data = value if data is None else data + b"\n" + value
        elif name == b"event":
            event = value
        elif name == b"id":
            if 0 not in value:  # no NUL (`0 in` is memchr; `b"\0" in` raises and clears a TypeError)
                event_id = value
        elif name == b"retry":
            if value.isdigit():  # bytes: ASCII digits only
                retry = int(value)
    if data is None and event_id is None and retry is None:
        return None
    return (event_id, event or b"message", data, retry)


class EventStreamReader:
    """Reads one connection's body, write by write.

    `on_ours(events, now)` gets a write's own events from the fast scan; `on_event(event,
    now)` gets every other block, in stream order."""

    __slots__ = ("_on_ours", "_on_event", "_buffer", "_started", "_after_cr")

    def __init__(self, on_ours: Callable[[list[Ours], float], None], on_event: Callable[[Event, float], None]) -> None:
        self._on_ours = on_ours
        self._on_event = on_event
        self._buffer = b""  # LF-only text after the last blank line
        self._started = False  # the BOM check is done
        self._after_cr = False  # the last write ended with CR: a LF first in the next is its pair

    def feed(self, data: bytes, now: float) -> None:
        if data.__class__ is not bytes:  # h11 hands some bodies over as bytearray
            data = bytes(data)
        if not self._started or self._after_cr:
            data = self._stream_edges(data)
        if 13 in data:  # a CR (an int: `b"\r" in` costs a raised and cleared TypeError)
            data = self._to_lf(data)
        if self._buffer:
            data = self._buffer + data
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buffer = data
            return
        stop = end + 2
        self._buffer = data[stop:]
        if 0 not in data:  # a NUL voids an id line: such a write is read line by line
            events = OUR_EVENTS.findall(data, 0, stop) or OUR_EVENTS_EVENT_FIRST.findall(data, 0, stop)
            # Each match holds exactly one `\n\n`: equal counts mean every block in the text matched.
            if events and len(events) == data.count(b"\n\n", 0, stop):
                self._on_ours(events, now)
                return
        on_event = self._on_event
        for block in data[:end].split(b"\n\n"):
            event = parse_block(block)
            if event is not None:
                on_event(event, now)

    def _stream_edges(self, data: bytes) -> bytes:
        if self._after_cr and data:
            self._after_cr = False
            if data[:1] == b"\n":
                data = data[1:]
        if not self._started:
            data = self._buffer + data
            self._buffer = b""
            if len(data) < len(BOM) and BOM.startswith(data):
                self._buffer = data  # maybe a BOM cut short: decide on the next write
                return b""
            self._started = True
            if data.startswith(BOM):
                data = data[len(BOM) :]
        return data

    def _to_lf(self, data: bytes) -> bytes:
        if data[-1:] == b"\r":
            self._after_cr = True
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class StreamProtocol(asyncio.Protocol):
    """One stream's HTTP/1.1 connection: h11 hands the response body to the reader, the
    status to the slot."""

    def __init__(self, slot: StreamSlot, request: bytes, http: h11.Connection) -> None:
        self.slot = slot
        self.request = request
        self.http = http
        self.transport: asyncio.Transport | None = None
        self.reader = EventStreamReader(slot.on_ours, slot.on_event)
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
        self.reader.feed(data, time.time())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


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
