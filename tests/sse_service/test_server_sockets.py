"""A client that vanishes without a FIN is found by the kernel, not left for fifteen minutes."""

from __future__ import annotations

import socket

import pytest

from sse_service.server import KEEPALIVE_IDLE, UNACKNOWLEDGED_WRITE_TIMEOUT_MS, hypercorn_config
from tests.support.inprocess import server_settings

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket options")


def test_accepted_connections_carry_keepalive_and_a_write_timeout() -> None:
    sockets = hypercorn_config(server_settings()).create_sockets()
    [listener] = sockets.insecure_sockets
    listener.setblocking(True)
    listener.listen()
    client = socket.create_connection(listener.getsockname()[:2])
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == UNACKNOWLEDGED_WRITE_TIMEOUT_MS
    finally:
        for s in (client, accepted, listener):
            s.close()
