"""Who may open a stream, and how streams end — on both brokers."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from tests.support.gates import SwitchableGate
from tests.support.inprocess import SECRET, Served, open_stream


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer " + jwt.encode({"sub": "x", "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")},
        {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "wrong-secret-wrong-secret-wrong-secret", algorithm="HS256")
        },
        {"Authorization": "Bearer " + jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")},
        {"Authorization": "Bearer " + jwt.encode({"sub": "x"}, SECRET, algorithm="HS256")},
    ],
    ids=["missing", "garbage", "basic", "expired", "bad-signature", "no-sub", "no-exp"],
)
async def test_bad_tokens_get_401_json(served: Served, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/stream", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


async def test_token_in_query_parameter_is_accepted(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, {}, params={"access_token": served.token("q")}) as stream:
            assert (await stream.next()).event == "connected"


async def test_user_outside_rollout_gets_204_and_still_has_an_inbox(served: Served, gate: SwitchableGate) -> None:
    gate.outside = {"outsider"}
    ids = await served.publish({"user_id": "outsider", "data": {"n": 1}})
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/stream", headers=served.auth("outsider"))
        assert r.status_code == 204
        inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("outsider"))).json()
        assert [n["id"] for n in inbox["notifications"]] == ids


async def test_per_user_limit_rejects_with_429_and_retry_after(make_server) -> None:
    async with make_server(max_connections_per_user=1) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("u")) as stream:
                await stream.next()
                r = await client.get(f"{served.url}/v1/stream", headers=served.auth("u"))
                assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
                assert r.json()["error"] == "user_limit"
            await until(lambda: served.services.hub.connection_count == 0)
            async with open_stream(client, served.url, served.auth("u")) as again:
                assert (await again.next()).event == "connected"


async def test_evict_oldest_policy_ends_the_oldest_stream_with_evicted(make_server) -> None:
    async with make_server(max_connections_per_user=1, user_limit_policy="evict_oldest") as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("u")) as old:
                await old.next()
                async with open_stream(client, served.url, served.auth("u")) as new:
                    assert (await new.next()).event == "connected"
                    assert (await old.next()).event == "evicted"
                    [event_id] = await served.publish({"user_id": "u", "data": 1})
                    assert (await new.next()).id == event_id


async def test_global_limit_answers_503_with_retry_after(make_server) -> None:
    async with make_server(max_connections=1) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("a")) as stream:
                await stream.next()
                r = await client.get(f"{served.url}/v1/stream", headers=served.auth("b"))
                assert r.status_code == 503 and r.headers["retry-after"]
                assert r.json()["error"] == "global_limit"


async def test_pings_arrive_every_interval(make_server) -> None:
    async with make_server(ping_interval=0.2) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("p")) as stream:
                await stream.next()
                ping = await stream.next(timeout=5, skip_pings=False)
                assert ping.event == "ping" and '"server_time"' in ping.data


async def test_expired_token_ends_the_stream_with_reauth(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("e", ttl=2)) as stream:
            await stream.next()
            assert (await stream.next(timeout=6)).event == "reauth"


async def test_leaving_the_rollout_ends_open_streams_with_disabled(served: Served, gate: SwitchableGate) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with (
            open_stream(client, served.url, served.auth("leaver")) as leaver,
            open_stream(client, served.url, served.auth("stayer")) as stayer,
        ):
            await leaver.next(), await stayer.next()
            gate.change(outside={"leaver"})
            assert (await leaver.next()).event == "disabled"
            [event_id] = await served.publish({"user_id": "stayer", "data": 1})
            assert (await stayer.next()).id == event_id
            r = await client.get(f"{served.url}/v1/stream", headers=served.auth("leaver"))
            assert r.status_code == 204


async def test_slow_consumer_is_cut_off_with_overflow_and_never_slows_others(make_server) -> None:
    async with make_server(queue_size=4) as served:
        async with httpx.AsyncClient(timeout=30) as client:
            async with (
                open_stream(client, served.url, served.auth("slow")) as slow,
                open_stream(client, served.url, served.auth("fast")) as fast,
            ):
                await slow.next(), await fast.next()
                blob = "x" * 60_000
                for _ in range(10):  # ~12 MB the slow reader never reads
                    await served.publish({"notifications": [{"user_id": "slow", "data": blob}] * 20}, client)
                await until(lambda: not served.services.hub.user_connections("slow"), timeout=20)
                [event_id] = await served.publish({"user_id": "fast", "data": "still here"}, client)
                assert (await fast.next()).id == event_id
        exposition = served.services.metrics.exposition()[0].decode()
        assert 'sse_connections_closed_total{reason="overflow"} 1.0' in exposition
