"""A stream read from a raw socket the test controls: it can stop reading (a stalled
client whose receive buffer fills) and later drain everything, or reset the connection.

httpx reads ahead into its own buffers; a raw socket with a small receive buffer is
what makes the server's writes really stall.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from urllib.parse import urlsplit

RECEIVE_BUFFER = 4096


class RawStream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = bytearray()

    @classmethod
    async def open(cls, url: str, token: str) -> "RawStream":
        parts = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)   # before connect: a small window
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        request = (f"GET /v1/stream HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
                   "Accept: text/event-stream\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        return cls(sock)

    async def read_until(self, marker: bytes, timeout: float = 10.0) -> None:
        """Read until `marker` has been received (the stream's bytes so far stay in `received`)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while marker not in self.received:
                chunk = await loop.sock_recv(self.sock, 65536)
                if not chunk:
                    raise AssertionError(f"connection closed before {marker!r}")
                self.received += chunk

    async def read_to_end(self, timeout: float = 20.0) -> None:
        """Read until the server ends the response (the last chunk) or closes the connection."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not self.received.endswith(b"0\r\n\r\n"):
                chunk = await loop.sock_recv(self.sock, 65536)
                if not chunk:
                    return
                self.received += chunk

    def event_names(self) -> list[str]:
        """The `event:` names received, in order (chunk framing lines are not SSE fields)."""
        return [line[len(b"event: "):].decode() for line in bytes(self.received).split(b"\n") if line.startswith(b"event: ")]

    def reset(self) -> None:
        """Close with RST (linger 0): the server's next write fails with ECONNRESET."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()
