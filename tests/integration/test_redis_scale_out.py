"""Two instances sharing Redis: cross-instance delivery, global per-user limits, outages."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from sse_service.types import EventId
from tests.support.gates import SwitchableGate
from tests.support.inprocess import open_stream, server_settings, serving

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def two_instances(redis_url: str, prefix: str, **changes):
    common = {"broker": "redis", "redis_url": redis_url, "redis_prefix": prefix, **changes}
    async with serving(server_settings(**common), flag_gate=SwitchableGate()) as a:
        async with serving(server_settings(**common), flag_gate=SwitchableGate()) as b:
            yield a, b


async def test_publish_on_one_instance_reaches_streams_on_the_other(redis_url: str, redis_prefix: str) -> None:
    async with two_instances(redis_url, redis_prefix) as (a, b), httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, b.url, b.auth("x")) as on_b, open_stream(client, a.url, a.auth("x")) as on_a:
            await on_b.next(), await on_a.next()
            ids = await a.publish({"user_id": "x", "data": "hi"})
            ids += await b.publish({"broadcast": True, "data": "all"})
            expected = [
                ids[0],
                str(
                    EventId.parse(ids[0]).with_broadcast(
                        EventId.parse(ids[1]).broadcast.epoch, EventId.parse(ids[1]).broadcast.offset
                    )
                ),
            ]
            assert [e.id for e in await on_b.take(2)] == expected
            assert [e.id for e in await on_a.take(2)] == expected


async def test_replay_works_across_instances(redis_url: str, redis_prefix: str) -> None:
    async with two_instances(redis_url, redis_prefix) as (a, b), httpx.AsyncClient(timeout=10) as client:
        first = await a.publish({"user_id": "r", "data": 0})
        rest = await a.publish({"notifications": [{"user_id": "r", "data": i} for i in range(3)]})
        async with open_stream(client, b.url, {**b.auth("r"), "Last-Event-ID": first[0]}) as stream:
            await stream.next()
            assert [e.id for e in await stream.take(3)] == rest


async def test_per_user_limit_counts_streams_on_every_instance(redis_url: str, redis_prefix: str) -> None:
    async with (
        two_instances(redis_url, redis_prefix, max_connections_per_user=1) as (a, b),
        httpx.AsyncClient(timeout=10) as client,
    ):
        async with open_stream(client, a.url, a.auth("one")) as stream:
            await stream.next()
            r = await client.get(f"{b.url}/v1/stream", headers=b.auth("one"))
            assert r.status_code == 429


async def test_evict_oldest_reaches_the_instance_holding_the_old_stream(redis_url: str, redis_prefix: str) -> None:
    async with (
        two_instances(redis_url, redis_prefix, max_connections_per_user=1, user_limit_policy="evict_oldest") as (a, b),
        httpx.AsyncClient(timeout=10) as client,
    ):
        async with open_stream(client, a.url, a.auth("ev")) as old:
            await old.next()
            async with open_stream(client, b.url, b.auth("ev")) as new:
                assert (await new.next()).event == "connected"
                assert (await old.next()).event == "evicted"


async def test_leases_of_a_dead_instance_expire(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    from sse_service.broker.keys import user_keys
    from sse_service.broker.redis import RedisBroker

    broker = RedisBroker(redis_url, redis_prefix, 100, 3600, lease_ttl=1)
    granted = await broker.acquire_lease("dead", "0001", 1, False)
    assert granted.granted
    assert not (await broker.acquire_lease("dead", "0002", 1, False)).granted
    client = aioredis.Redis.from_url(redis_url)
    # the instance died: nobody renews; once the lease's expiry passes, the slot is free
    leases = user_keys("dead").leases(redis_prefix)
    expiry = await client.zscore(leases, "0001")
    await client.zadd(leases, {"0001": expiry - 2000})
    assert (await broker.acquire_lease("dead", "0002", 1, False)).granted
    await client.aclose()
    await broker._redis.aclose()


async def test_workers_setting_runs_that_many_instances_on_one_port(redis_url: str, redis_prefix: str) -> None:
    import asyncio

    from tests.support.server import start_server

    server = await asyncio.to_thread(
        start_server,
        {
            "FLAGSTREAM_BROKER": "redis",
            "FLAGSTREAM_REDIS_URL": redis_url,
            "FLAGSTREAM_REDIS_PREFIX": redis_prefix,
            "FLAGSTREAM_WORKERS": "2",
        },
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            started = set()
            deadline = asyncio.get_running_loop().time() + 20
            while len(started) < 2 and asyncio.get_running_loop().time() < deadline:
                # a fresh connection each time: the kernel spreads them over the workers that listen
                async with httpx.AsyncClient(timeout=10) as fresh:
                    admin = {"Authorization": f"Bearer {server.admin_token}"}
                    started.add((await fresh.get(f"{server.url}/readyz", headers=admin)).json()["instance"])
            assert len(started) == 2, "only one worker process answered"
            headers = {"Authorization": f"Bearer {server.user_token('w')}"}
            async with open_stream(client, server.url, headers) as stream:
                await stream.next()
                ids = await asyncio.to_thread(server.publish, {"user_id": "w", "data": 1})
                assert (await stream.next()).id == ids[0]
    finally:
        assert await asyncio.to_thread(server.stop) == 0
