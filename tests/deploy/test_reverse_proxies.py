"""flagstream behind real Debian nginx and HAProxy, configured from deploy/ (the files
docs/deploy.md shows): no buffering, pings outlive the proxy's read timeout, SIGTERM
drains through the proxy, and the client's real address reaches the access log.

The client connects from 127.0.0.2 and the proxy from 127.0.0.1 (TRUSTED_PROXIES), so a
spoofed X-Forwarded-For can be told apart from the address the proxy saw.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.support.server import RunningServer, start_server

from .proxies import RunningProxy, running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
CLIENT_ADDRESS = "127.0.0.2"
# Pings leave on the hub's one-second tick, so a stream is quiet for at most
# PING_INTERVAL + 1 s: the proxy's read timeout must be longer than that (docs/deploy.md).
PING_INTERVAL = 1.0
READ_TIMEOUT = 3.0


def _client(**kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=CLIENT_ADDRESS), timeout=10, **kwargs)


@pytest.fixture(params=["nginx", "haproxy"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _server(ping_interval: float) -> RunningServer:
    return start_server(
        {
            "FLAGSTREAM_PING_INTERVAL": str(ping_interval),
            "FLAGSTREAM_TRUSTED_PROXIES": "127.0.0.1/32",
            "FLAGSTREAM_ACCESS_LOG": "true",
            "FLAGSTREAM_RETRY_MS": "500",
        }
    )


@pytest.fixture
def behind_proxy(kind: str) -> Iterator[tuple[RunningServer, RunningProxy]]:
    server = _server(ping_interval=PING_INTERVAL)
    try:
        with running_proxy(kind, server.url, READ_TIMEOUT) as proxy:
            yield server, proxy
    finally:
        server.stop()


async def test_events_pass_through_the_proxy_within_100ms(behind_proxy) -> None:
    """Stored → read by the client through the proxy. An id's first part is the moment the
    event was stored (ms, the same clock), so the publisher's own request does not count."""
    server, proxy = behind_proxy
    user = f"proxied-{uuid.uuid4().hex[:8]}"
    latencies = []
    publish_headers = {"Authorization": f"Bearer {server.publish_token}"}
    async with (
        _client() as client,
        httpx.AsyncClient(timeout=10) as publisher,
        aconnect_sse(
            client, "GET", f"{proxy.url}/v1/stream", headers={"Authorization": f"Bearer {server.user_token(user)}"}
        ) as source,
    ):
        assert source.response.status_code == 200
        events = source.aiter_sse()
        assert (await anext(events)).event == "connected"
        for n in range(7):
            answer = await publisher.post(
                f"{server.url}/v1/notifications", headers=publish_headers, json={"user_id": user, "data": {"n": n}}
            )
            while (event := await asyncio.wait_for(anext(events), 5)).event == "ping":
                pass
            latencies.append(time.time() - stored_ms(event.id) / 1000)
            assert event.id == answer.json()["ids"][0]
    print(f"{proxy.kind}: stored→received through the proxy, ms: {[round(x * 1000, 1) for x in latencies]}")
    # The median, not the maximum: two shared cores can stall any one event; a buffering
    # proxy (HAProxy without http-no-delay: ~200 ms each) fails every one of them.
    assert statistics.median(latencies) < 0.100, latencies


async def test_pings_keep_an_idle_stream_open_past_the_read_timeout(behind_proxy) -> None:
    server, proxy = behind_proxy
    user = f"idle-{uuid.uuid4().hex[:8]}"
    async with (
        _client() as client,
        aconnect_sse(
            client, "GET", f"{proxy.url}/v1/stream", headers={"Authorization": f"Bearer {server.user_token(user)}"}
        ) as source,
    ):
        events = source.aiter_sse()
        assert (await anext(events)).event == "connected"
        idle_until = time.monotonic() + 2 * READ_TIMEOUT
        pings = 0
        while time.monotonic() < idle_until:
            event = await asyncio.wait_for(anext(events), READ_TIMEOUT)
            assert event.event == "ping"
            pings += 1
        ids = await asyncio.to_thread(server.publish, {"user_id": user, "data": "still open"})
        while (event := await asyncio.wait_for(anext(events), 5)).event == "ping":
            pass
    assert event.id == ids[0] and pings >= 3


async def test_without_pings_the_proxy_ends_an_idle_stream(kind: str) -> None:
    """The control for the test above: the read timeout is real."""
    server = _server(ping_interval=60)
    try:
        with running_proxy(kind, server.url, READ_TIMEOUT) as proxy:
            started = time.monotonic()
            async with (
                _client() as client,
                aconnect_sse(
                    client, "GET", f"{proxy.url}/v1/stream", headers={"Authorization": f"Bearer {server.user_token('quiet')}"}
                ) as source,
            ):
                with pytest.raises((StopAsyncIteration, httpx.HTTPError)):
                    async for _event in source.aiter_sse():
                        assert time.monotonic() - started < 10
                    raise StopAsyncIteration
    finally:
        server.stop()


async def test_sigterm_drains_streams_through_the_proxy(behind_proxy) -> None:
    server, proxy = behind_proxy
    async with (
        _client() as client,
        aconnect_sse(
            client, "GET", f"{proxy.url}/v1/stream", headers={"Authorization": f"Bearer {server.user_token('drained')}"}
        ) as source,
    ):
        events = source.aiter_sse()
        assert (await anext(events)).event == "connected"
        server.terminate()
        names = []
        async for event in events:
            names.append(event.event)
    assert names[-1] == "shutdown" and set(names) <= {"ping", "shutdown"}
    assert await asyncio.to_thread(server.process.wait, 10) == 0


async def test_the_clients_real_address_reaches_the_access_log(behind_proxy) -> None:
    server, proxy = behind_proxy
    via_proxy, direct = uuid.uuid4().hex, uuid.uuid4().hex
    async with _client() as client:
        spoofed = {"X-Forwarded-For": "198.51.100.66"}
        assert (await client.get(f"{proxy.url}/healthz", params={"probe": via_proxy}, headers=spoofed)).status_code == 200
        assert (await client.get(f"{server.url}/healthz", params={"probe": direct}, headers=spoofed)).status_code == 200
    lines = await _log_lines(server, via_proxy, direct)
    assert _peer(lines[via_proxy]) == CLIENT_ADDRESS, lines  # not the proxy's 127.0.0.1, not the spoof
    assert _peer(lines[direct]) == CLIENT_ADDRESS, lines  # an untrusted peer's header is ignored
    assert "198.51.100.66" not in "".join(lines.values())


def _peer(access_line: str) -> str:
    """The `%(h)s` field (host:port) of Hypercorn's access line, without the port."""
    match = re.search(r"\] (\S+) \[\d", access_line)
    assert match, access_line
    return match.group(1).rsplit(":", 1)[0]


async def _log_lines(server: RunningServer, *markers: str) -> dict[str, str]:
    deadline = time.monotonic() + 10
    while True:
        found = {m: line for line in server.log().splitlines() for m in markers if m in line}
        if len(found) == len(markers) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def stored_ms(event_id: str) -> int:
    """When the event was stored: the ms of its user offset (`<uEpoch>.<uMs>-<uN>.<bEpoch>.<bMs>-<bN>`)."""
    return int(event_id.split(".")[1].split("-")[0])
