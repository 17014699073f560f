"""A client that trickles its request head (slowloris) cannot hold a connection for long."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.slow

HEADER_TIMEOUT = 1.0
GIVE_UP_AFTER = 8.0  # today's server held such a connection for 75 s


@pytest.fixture(scope="module")
def guarded() -> Iterator[RunningServer]:
    server = start_server({"FLAGSTREAM_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "FLAGSTREAM_PING_INTERVAL": "0.5"})
    yield server
    server.stop()


def connect(server: RunningServer) -> socket.socket:
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    sock.settimeout(0.25)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_request_head_trickled_line_by_line_is_cut_off(guarded: RunningServer) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        line = 0
        while not closed_by_server(sock):
            assert time.monotonic() - started < GIVE_UP_AFTER, "a trickled request head held its connection"
            try:
                sock.sendall(f"X-Slow-{line}: a\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break
            line += 1
    assert httpx.get(f"{guarded.url}/healthz", timeout=5).status_code == 200


def test_a_connection_that_never_sends_a_request_is_closed(guarded: RunningServer) -> None:
    with connect(guarded) as sock:
        started = time.monotonic()
        while not closed_by_server(sock):
            assert time.monotonic() - started < GIVE_UP_AFTER, "a silent new connection was kept open"


def test_streams_and_kept_alive_connections_outlive_the_header_timeout(guarded: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {guarded.user_token('patient')}"}
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", f"{guarded.url}/v1/stream", headers=headers) as stream:
            lines = stream.iter_lines()
            pings = 0
            while pings < 4:  # 2 s of pings: twice the header timeout
                if next(lines) == "event: ping":
                    pings += 1
        # the same client (a kept-alive connection) still works after the stream
        assert client.get(f"{guarded.url}/healthz").status_code == 200


def test_a_request_head_split_in_quick_pieces_is_served(guarded: RunningServer) -> None:
    with connect(guarded) as sock:
        for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHost: x\r\n", b"\r\n"):
            sock.sendall(piece)
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_may_stay_silent_between_requests_but_not_trickle(guarded: RunningServer) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(guarded) as sock:
        sock.settimeout(5)
        sock.sendall(request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.settimeout(0.25)
        silent_until = time.monotonic() + 2 * HEADER_TIMEOUT  # proxies reuse idle connections
        while time.monotonic() < silent_until:
            assert not closed_by_server(sock), "an idle kept-alive connection was closed at the header timeout"
        sock.sendall(request)
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.settimeout(0.25)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        while not closed_by_server(sock):
            assert time.monotonic() - started < GIVE_UP_AFTER, "a trickled second request head held its connection"
            try:
                sock.sendall(b"X-Slow: a\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
