"""The Python client against a real server: limits, rollout fallback, reauth, restarts."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from flagstream_client import AuthenticationFailed, BackoffPolicy, ClientOptions, NotificationClient
from sse_service.auth import mint_token
from tests.support.gates import SwitchableGate
from tests.support.inprocess import SECRET, open_stream, server_settings, serving

from .support import running

FAST = ClientOptions(
    backoff=BackoffPolicy(minimum=0.05, maximum=0.5), poll_interval=0.1, stream_retry_after=0.5, connect_timeout=5
)


async def test_a_429_waits_for_retry_after_then_streams() -> None:
    gate = SwitchableGate()
    async with serving(server_settings(max_connections_per_user=1, retry_ms=2000), flag_gate=gate) as served:
        async with httpx.AsyncClient(timeout=10) as http:
            async with open_stream(http, served.url, served.auth("busy")) as other:
                await other.next()
                client = NotificationClient(served.url, served.token("busy"), options=FAST)
                async with running(client) as got:
                    await got.until(lambda: client.stats.rejections.get(429, 0) >= 1)
                    # Retry-After is 2 s; the client's own backoff alone would retry within 0.5 s.
                    await asyncio.sleep(1.0)
                    assert client.stats.rejections[429] == 1, "retried before Retry-After had passed"
                    assert client.stats.connects == 0
                    await other.response.aclose()
                    await got.until(lambda: client.stats.connects == 1)
                    [event_id] = await served.publish({"user_id": "busy", "data": {"n": 1}})
                    event = await got.next()
                    assert (event.id, event.data, event.via) == (event_id, {"n": 1}, "stream")


async def test_outside_the_rollout_it_polls_the_inbox_then_returns_to_the_stream() -> None:
    gate = SwitchableGate(outside={"late"})
    async with serving(server_settings(), flag_gate=gate) as served:
        early = await served.publish({"notifications": [{"user_id": "late", "data": i} for i in range(3)]})
        client = NotificationClient(served.url, served.token("late"), options=FAST)
        async with running(client) as got:
            polled = await got.take(3)
            assert [(n.id, n.data, n.via) for n in polled] == [(i, n, "poll") for n, i in enumerate(early)]
            assert client.stats.rejections[204] >= 1
            while_polling = await served.publish({"user_id": "late", "data": "while polling"})
            assert [n.id for n in await got.take(1)] == while_polling
            gate.change(set())
            await got.until(lambda: client.stats.connects == 1)
            live = await served.publish({"user_id": "late", "data": "live"})
            event = await got.next()
            assert (event.id, event.via) == (live[0], "stream")
            assert got.items.empty(), "an event was delivered twice across the switch"


async def test_disabled_mid_stream_switches_to_polling_without_losing_events() -> None:
    gate = SwitchableGate()
    async with serving(server_settings(), flag_gate=gate) as served:
        client = NotificationClient(served.url, served.token("d"), options=FAST)
        async with running(client) as got:
            await got.until(lambda: client.stats.connects == 1)
            first = await served.publish({"user_id": "d", "data": 1})
            assert (await got.next()).id == first[0]
            gate.change({"d"})
            await got.until(lambda: client.mode == "polling")
            later = await served.publish({"user_id": "d", "data": 2})
            event = await got.next()
            assert (event.id, event.via) == (later[0], "poll")


async def test_reauth_and_401_ask_the_token_callback_for_a_fresh_token() -> None:
    gate = SwitchableGate()
    async with serving(server_settings(), flag_gate=gate) as served:
        handed_out: list[str] = []

        async def tokens() -> str:
            # First a token signed with the wrong key (401), then short-lived real ones (reauth).
            token = mint_token("not-the-secret-0123456789abcdef012", "r") if not handed_out else mint_token(SECRET, "r", ttl=2)
            handed_out.append(token)
            return token

        client = NotificationClient(served.url, tokens, options=FAST)
        async with running(client) as got:
            await got.until(lambda: client.stats.connects >= 2, timeout=15)  # a reauth happened in between
            assert client.stats.rejections[401] == 1
            assert client.stats.token_refreshes >= 2
            ids = await served.publish({"user_id": "r", "data": "after reauth"})
            assert (await got.next()).id == ids[0]


async def test_a_token_refused_every_time_ends_with_authentication_failed() -> None:
    async with serving(server_settings(), flag_gate=SwitchableGate()) as served:
        client = NotificationClient(served.url, lambda: "garbage", options=FAST)
        with pytest.raises(AuthenticationFailed):
            async for _ in client:
                pass
        assert client.stats.rejections[401] == FAST.max_auth_failures + 1


@pytest.mark.redis
async def test_server_restart_resumes_with_last_event_id_without_loss_or_duplicates(redis_url: str, redis_prefix: str) -> None:
    shared = {"broker": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "retry_ms": 100}
    settings = server_settings(**shared)
    client = NotificationClient(f"http://{settings.host}:{settings.port}", mint_token(SECRET, "rs"), options=FAST)
    # A second instance on the same Redis takes publishes while the client's instance is down.
    async with serving(server_settings(**shared), flag_gate=SwitchableGate()) as publisher:
        async with contextlib.AsyncExitStack() as first:  # the client's instance, stopped mid-test
            await first.enter_async_context(serving(settings, flag_gate=SwitchableGate()))
            async with running(client) as got:
                await got.until(lambda: client.stats.connects == 1)
                before = await publisher.publish({"notifications": [{"user_id": "rs", "data": i} for i in range(3)]})
                assert [n.id for n in await got.take(3)] == before
                await first.aclose()
                missed = await publisher.publish({"notifications": [{"user_id": "rs", "data": i} for i in range(3, 8)]})
                async with serving(settings, flag_gate=SwitchableGate()):
                    received = await got.take(5)
                    assert [n.id for n in received] == missed
                    assert [(n.data, n.via) for n in received] == [(i, "stream") for i in range(3, 8)]
                    assert client.stats.connects == 2 and client.stats.reconnects >= 1
                    live = await publisher.publish({"user_id": "rs", "data": "live"})
                    assert [n.id for n in await got.take(1)] == live
                    assert got.items.empty()


@pytest.mark.redis
async def test_a_client_that_never_got_an_event_resumes_from_the_streams_starting_point(
    redis_url: str, redis_prefix: str
) -> None:
    """Regression (storm benchmark: 18 of 20,000 events missed): a stream that dropped before its
    first event left the client no Last-Event-ID. The `connected` block's id is the resume point."""
    shared = {"broker": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "retry_ms": 100}
    settings = server_settings(**shared)
    async with serving(server_settings(**shared), flag_gate=SwitchableGate()) as publisher:
        old = await publisher.publish({"user_id": "quiet", "data": "before the client existed"})
        client = NotificationClient(f"http://{settings.host}:{settings.port}", mint_token(SECRET, "quiet"), options=FAST)
        async with contextlib.AsyncExitStack() as first:  # the client's instance, stopped mid-test
            await first.enter_async_context(serving(settings, flag_gate=SwitchableGate()))
            async with running(client) as got:
                await got.until(lambda: client.stats.connects == 1)
                await first.aclose()
                missed = await publisher.publish({"notifications": [{"user_id": "quiet", "data": i} for i in range(3)]})
                async with serving(settings, flag_gate=SwitchableGate()):
                    received = await got.take(3)
                    assert [(n.id, n.via) for n in received] == [(i, "stream") for i in missed]
                    live = await publisher.publish({"user_id": "quiet", "data": "live"})
                    assert [n.id for n in await got.take(1)] == live
                    assert got.items.empty() and old[0] not in {n.id for n in received}


async def test_a_silent_stream_is_dropped_after_two_ping_intervals_and_reopened() -> None:
    """The server process is frozen (SIGSTOP): no ping arrives, the socket stays open."""
    import os
    import signal

    from tests.support.server import start_server

    server = start_server({"FLAGSTREAM_PING_INTERVAL": "0.5"})
    try:
        client = NotificationClient(server.url, server.user_token("w"), options=FAST)
        async with running(client) as got:
            await got.until(lambda: client.stats.connects == 1)
            os.kill(server.process.pid, signal.SIGSTOP)
            try:
                await got.until(lambda: client.stats.watchdog_timeouts >= 1, timeout=10)
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            await got.until(lambda: client.stats.connects >= 2)
            ids = server.publish({"user_id": "w", "data": "after the freeze"})
            assert (await got.next()).id == ids[0]
    finally:
        server.stop()


async def test_an_evicted_client_polls_instead_of_pushing_the_newer_stream_out() -> None:
    settings = server_settings(max_connections_per_user=1, user_limit_policy="evict_oldest")
    async with serving(settings, flag_gate=SwitchableGate()) as served:
        client = NotificationClient(
            served.url,
            served.token("twice"),
            options=ClientOptions(
                backoff=BackoffPolicy(minimum=0.05, maximum=0.5), poll_interval=0.1, stream_retry_after=30, connect_timeout=5
            ),
        )
        async with running(client) as got, httpx.AsyncClient(timeout=10) as http:
            await got.until(lambda: client.stats.connects == 1)
            async with open_stream(http, served.url, served.auth("twice")) as newer:
                assert (await newer.next()).event == "connected"
                ids = await served.publish({"user_id": "twice", "data": "both see it"})
                assert (await newer.next()).id == ids[0]
                polled = await got.next()
                assert (polled.id, polled.via) == (ids[0], "poll")
                assert client.stats.connects == 1 and len(served.services.hub.user_connections("twice")) == 1


async def test_a_server_that_accepts_but_never_answers_is_left_after_the_connect_timeout() -> None:
    # What a client sees behind a black hole at the moment it reconnects: the TCP handshake
    # completed, then silence. The stream has no read timeout; the response start must.
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = ClientOptions(backoff=BackoffPolicy(minimum=0.05, maximum=0.1), connect_timeout=0.3)
    client = NotificationClient(f"http://127.0.0.1:{port}", "token", options=options)
    try:
        async with running(client) as got:
            await got.until(lambda: client.stats.network_errors >= 2, timeout=10)
            assert client.stats.connects == 0 and client.stats.endings == {}
    finally:
        server.close()
