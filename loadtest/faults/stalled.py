"""A stream whose reader stops reading: a raw socket with a small receive window, so the
server's writes really stall (an HTTP client would read ahead into its own buffers)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

RECEIVE_BUFFER = 4096


@dataclass(frozen=True)
class RawEvent:
    id: str | None
    event: str
    data: str


class StalledStream:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._raw = bytearray()

    @classmethod
    async def open(cls, url: str, token: str, last_event_id: str | None = None) -> StalledStream:
        parts = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # before connect: a small window
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        request = (
            f"GET /v1/stream HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: text/event-stream\r\n{resume}\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        return cls(sock)

    async def read_until(self, marker: bytes, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while marker not in self._raw:
                chunk = await loop.sock_recv(self._sock, 65536)
                if not chunk:
                    raise ConnectionError(f"closed before {marker!r}")
                self._raw += chunk

    async def read_to_end(self, timeout: float) -> None:
        """Read until the response's last chunk or the connection's end."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not self._raw.endswith(b"\r\n0\r\n\r\n"):
                chunk = await loop.sock_recv(self._sock, 65536)
                if not chunk:
                    return
                self._raw += chunk

    def events(self) -> list[RawEvent]:
        """The complete SSE blocks received, in order."""
        _, _, body = bytes(self._raw).partition(b"\r\n\r\n")
        text = _dechunk(body).decode("utf-8", "replace")
        events = []
        for block in text.split("\n\n")[:-1]:  # the last piece is incomplete (or empty)
            fields: dict[str, list[str]] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(": ")
                fields.setdefault(name, []).append(value)
            if "event" in fields or "data" in fields:
                events.append(
                    RawEvent(fields.get("id", [None])[0], fields.get("event", ["message"])[0], "\n".join(fields.get("data", [])))
                )
        return events

    def markers(self, user: str) -> list[int]:
        """The `n` of every notification for `user` received."""
        found = []
        for event in self.events():
            if event.id is not None:
                data = json.loads(event.data)
                if isinstance(data, dict) and data.get("u") == user:
                    found.append(int(data["n"]))
        return found

    def reset(self) -> None:
        """Close with RST (linger 0): the server's next write into it fails with ECONNRESET."""
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._sock.close()

    def close(self) -> None:
        self._sock.close()


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    at = 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            break
        size = int(body[at:end].split(b";")[0] or b"0", 16)
        if size == 0 or end + 2 + size > len(body):
            out += body[end + 2 : end + 2 + size]  # a partial last chunk: what arrived of it
            break
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2
    return bytes(out)
