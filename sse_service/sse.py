"""The SSE wire format in one value object (WHATWG HTML, "Server-sent events")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event block. ``encode()`` gives bytes no payload can break out of.

    >>> ServerSentEvent(data='{"a": 1}', event="notification", id="1-1").encode()
    b'id: 1-1\\nevent: notification\\ndata: {"a": 1}\\n\\n'
    """

    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + part for part in _LINE_BREAK.split(self.comment))
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
            lines.extend("data: " + part for part in _LINE_BREAK.split(self.data))
        return ("\n".join(lines) + "\n\n").encode()


def _single_line(name: str, value: str) -> None:
    if _LINE_BREAK.search(value):
        raise ValueError(f"an SSE {name} cannot contain a line break")
