"""A client that vanishes without a FIN is found by the kernel, not left for fifteen minutes."""

from __future__ import annotations

import socket

import pytest

from sse_service.server import hypercorn_config
from tests.support.inprocess import server_settings

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket options")


@pytest.mark.parametrize(("dead_peer_timeout", "idle", "interval", "user_timeout_ms"), [(60, 60, 10, 60_000), (3, 3, 1, 3000)])
def test_accepted_connections_carry_keepalive_and_a_write_timeout(
    dead_peer_timeout: float, idle: int, interval: int, user_timeout_ms: int
) -> None:
    sockets = hypercorn_config(server_settings(dead_peer_timeout=dead_peer_timeout)).create_sockets()
    [listener] = sockets.insecure_sockets
    listener.setblocking(True)
    listener.listen()
    client = socket.create_connection(listener.getsockname()[:2])
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == idle
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == interval
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == user_timeout_ms
    finally:
        for s in (client, accepted, listener):
            s.close()
