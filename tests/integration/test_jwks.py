"""Tokens signed by the identity provider's JWKS keys, against a real local JWKS endpoint."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.inprocess import open_stream
from tests.support.jwks_server import JwksServer, SigningKey
from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.keys = [SigningKey("key-a")]
    with server.running():
        yield server


def start_with_jwks(jwks: JwksServer, refresh_interval: float) -> RunningServer:
    return start_server(
        {
            "FLAGSTREAM_JWKS_URL": jwks.url,
            "FLAGSTREAM_JWT_AUDIENCE": "notify",
            "FLAGSTREAM_JWKS_REFRESH_INTERVAL": str(refresh_interval),
        }
    )


def inbox_status(server: RunningServer, token: str) -> int:
    return httpx.get(f"{server.url}/v1/notifications", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_a_key_removed_from_the_jwks_stops_verifying_within_the_refresh_interval(jwks: JwksServer) -> None:
    server = start_with_jwks(jwks, refresh_interval=1)
    try:
        old, new = jwks.keys[0], SigningKey("key-b")
        old_token = old.token("alice")
        assert inbox_status(server, old_token) == 200
        assert inbox_status(server, old_token) == 200  # remembered now
        jwks.keys = [new]  # the identity provider retires key-a
        removed_at = time.monotonic()
        while inbox_status(server, old_token) != 401:
            assert time.monotonic() - removed_at < 10, "a key removed from the JWKS kept verifying"
            time.sleep(0.1)
        assert inbox_status(server, new.token("alice")) == 200
        admin = old.token("ops", scope="admin")
        assert httpx.get(f"{server.url}/v1/admin/stats", headers={"Authorization": f"Bearer {admin}"}).status_code == 401
    finally:
        server.stop()


async def test_a_slow_jwks_never_stalls_health_checks_or_open_streams(jwks: JwksServer) -> None:
    server = await asyncio.to_thread(start_with_jwks, jwks, 1)
    key = jwks.keys[0]
    stranger = SigningKey(f"random-{uuid.uuid4().hex}")
    try:
        jwks.slow()  # every JWKS answer now takes 4 s
        async with httpx.AsyncClient(timeout=10) as client:
            anonymous = asyncio.create_task(
                client.get(f"{server.url}/v1/notifications", headers={"Authorization": f"Bearer {stranger.token('x')}"})
            )
            async with open_stream(client, server.url, {"Authorization": f"Bearer {key.token('alice')}"}) as stream:
                assert await asyncio.to_thread(jwks.waiting.acquire, True, 10), "the JWKS was never fetched"
                async with httpx.AsyncClient(timeout=2) as probe:
                    assert (await probe.get(f"{server.url}/healthz")).status_code == 200
                    assert (await stream.next(timeout=2)).event == "connected"
                    ids = await asyncio.to_thread(server.publish, {"user_id": "alice", "data": "during the stall"})
                    assert (await stream.next(timeout=2)).id == ids[0]
                assert jwks.held >= 1, "the checks above did not run while the JWKS answer was pending"
                jwks.answer()
            assert (await anonymous).status_code == 401
    finally:
        jwks.answer()
        await asyncio.to_thread(server.stop)


def test_anonymous_tokens_with_random_kids_fetch_the_jwks_at_most_once_per_cooldown(jwks: JwksServer) -> None:
    server = start_with_jwks(jwks, refresh_interval=300)
    try:
        assert inbox_status(server, jwks.keys[0].token("alice")) == 200
        before = jwks.requests
        for _ in range(30):
            assert inbox_status(server, SigningKey(f"random-{uuid.uuid4().hex}", private=jwks.keys[0].private).token("x")) == 401
        assert jwks.requests - before <= 1
    finally:
        server.stop()


async def test_streams_opened_with_a_removed_key_are_sent_to_reauth(jwks: JwksServer) -> None:
    old, new = jwks.keys[0], SigningKey("key-b")
    jwks.keys = [old, new]
    server = await asyncio.to_thread(start_with_jwks, jwks, 1)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            async with (
                open_stream(client, server.url, {"Authorization": f"Bearer {old.token('alice')}"}) as on_old,
                open_stream(client, server.url, {"Authorization": f"Bearer {new.token('bob')}"}) as on_new,
            ):
                assert (await on_old.next()).event == (await on_new.next()).event == "connected"
                jwks.keys = [new]  # key-a is retired (or was compromised)
                assert (await on_old.next(timeout=10)).event == "reauth"
                ids = await asyncio.to_thread(server.publish, {"user_id": "bob", "data": 1})
                assert (await on_new.next()).id == ids[0]  # streams on the remaining key go on
    finally:
        await asyncio.to_thread(server.stop)


def test_a_dashboard_session_opened_with_a_removed_key_ends_with_it(jwks: JwksServer) -> None:
    old, new = jwks.keys[0], SigningKey("key-b")
    jwks.keys = [old, new]
    server = start_with_jwks(jwks, refresh_interval=1)
    try:
        with httpx.Client(timeout=10) as on_old, httpx.Client(timeout=10) as on_new:
            for client, key in ((on_old, old), (on_new, new)):
                signed_in = client.get(f"{server.url}/dashboard", params={"access_token": key.token("ops", scope="admin")})
                assert signed_in.status_code == 303
                assert client.get(f"{server.url}/dashboard").status_code == 200
            jwks.keys = [new]
            removed_at = time.monotonic()
            while on_old.get(f"{server.url}/dashboard").status_code != 401:
                assert time.monotonic() - removed_at < 10, "a session opened with a removed key kept working"
                time.sleep(0.1)
            assert on_new.get(f"{server.url}/dashboard").status_code == 200
    finally:
        server.stop()
