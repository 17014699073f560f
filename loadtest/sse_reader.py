"""The generator's SSE reader: WHATWG HTML "Interpreting an event stream", on bytes.

`StreamProtocol` reads one stream's HTTP/1.1 response with h11 and feeds its body, write by
write, to an `EventStreamReader`, which tells its `StreamSlot` what the blocks say.

The generator shares two cores with the server it measures, so the common case costs one
regex scan in C per write: a write made only of flagstream's own blocks, spelled exactly as
flagstream writes them (`id: …\\nevent: lt\\ndata: {…}\\n\\n`), is tallied from that scan.
Anything else (pings, peers' spellings) is read field by field as the spec says:

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
from typing import TYPE_CHECKING, NamedTuple

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
# nothing but such blocks (and at most one extra blank line between two).
OUR_EVENTS = re.compile(rb"id: (?<![^\n]id: )(?<![^\n]\nid: )([^\n\0]+)\nevent: lt\ndata: " + OUR_PAYLOAD + rb"\n\n")
_PAYLOAD = re.compile(OUR_PAYLOAD)
BOM = b"\xef\xbb\xbf"

Ours = tuple[bytes, bytes, bytes, bytes]  # (id, kind, n, sent_at) as matched by OUR_EVENTS


class Event(NamedTuple):
    """One block's fields. `data` None: no data line, so no event is dispatched (WHATWG);
    its `id` still sets the last event id. `id` None: no (valid) id line, the last id stands."""

    id: bytes | None
    event: bytes  # b"message" when the block names none
    data: bytes | None
    retry: int | None


def parse_block(block: bytes) -> Event | None:
    """The fields of one block of LF-ended lines (no blank line in it); None if it has none."""
    event = b""
    data: bytes | None = None
    event_id: bytes | None = None
    retry: int | None = None
    seen = False
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data = value if data is None else data + b"\n" + value
        elif name == b"event":
            event = value
        elif name == b"id":
            if b"\0" in value:
                continue
            event_id = value
        elif name == b"retry":
            if not value.isdigit():  # bytes: ASCII digits only
                continue
            retry = int(value)
        else:  # a comment (`:…`), a blank line at the block's edge, an unknown field
            continue
        seen = True
    return Event(event_id, event or b"message", data, retry) if seen else None


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
        if not self._started or self._after_cr:
            data = self._stream_edges(data)
        if b"\r" in data:
            data = self._to_lf(data)
        if self._buffer:
            data = self._buffer + data
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buffer = data
            return
        self._buffer = data[end + 2 :]
        # Each match holds exactly one `\n\n`: equal counts mean every block in the text matched.
        events = OUR_EVENTS.findall(data, 0, end + 2)
        if events and len(events) == data.count(b"\n\n", 0, end + 2):
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
