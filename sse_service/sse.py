"""The SSE wire format in one value object (WHATWG HTML, "Server-sent events")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What `str.splitlines()` breaks on besides CR/LF. A WHATWG parser keeps these inside a
# line, but a reader that splits with `splitlines()` (httpx-sse before 0.4.3,
# many hand-written clients) would cut an event in two and lose it.
_UNICODE_BREAK = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_ANY_BREAK = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event block. ``encode()`` gives bytes no payload can break out of.

    ``data`` is JSON text: U+2028, U+2029, U+0085 (and the control characters
    ``str.splitlines`` breaks on) are sent as ``\\uXXXX`` escapes, which is the same JSON
    value, so every reader, WHATWG or ``splitlines``-based, sees the same lines.

    >>> ServerSentEvent(data='{"a": 1}', event="notification", id="1-1").encode()
    b'id: 1-1\\nevent: notification\\ndata: {"a": 1}\\n\\n'
    >>> ServerSentEvent(data='"a\u2028b"').encode()
    b'data: "a\\\\u2028b"\\n\\n'
    """

    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + part for part in _ANY_BREAK.split(self.comment))
        if self.retry is not None:
            lines.append(f"retry: {int(self.retry)}")
        if self.id is not None:
            _single_line("id", self.id)
            if "\0" in self.id:
                raise ValueError("an SSE id cannot contain NUL")
            lines.append(f"id: {self.id}")
        if self.event is not None:
            _single_line("event", self.event)
            lines.append(f"event: {self.event}")
        if self.data is not None:
            data = escape_unicode_breaks(self.data)
            if "\n" in data or "\r" in data:
                lines.extend("data: " + part for part in _LINE_BREAK.split(data))
            else:
                lines.append("data: " + data)  # compact JSON: always one line
        return ("\n".join(lines) + "\n\n").encode()


def event_block(event: str, data_json: str) -> bytes:
    """`ServerSentEvent(data=data_json, event=event).encode()`, without building the value
    when neither can hold a line break (the common case: a printable ASCII payload)."""
    if data_json.isascii() and data_json.isprintable() and event.isprintable():
        return b"event: " + event.encode() + b"\ndata: " + data_json.encode() + b"\n\n"
    return ServerSentEvent(data=data_json, event=event).encode()


def escape_unicode_breaks(json_text: str) -> str:
    """``json_text`` with every non-CR/LF line break written as a JSON ``\\uXXXX`` escape.

    Outside strings JSON allows none of these characters, so inside strings the
    escape is the same value."""
    if (json_text.isascii() and json_text.isprintable()) or _UNICODE_BREAK.search(json_text) is None:
        return json_text
    return _UNICODE_BREAK.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _single_line(name: str, value: str) -> None:
    if _ANY_BREAK.search(value):
        raise ValueError(f"an SSE {name} cannot contain a line break")
