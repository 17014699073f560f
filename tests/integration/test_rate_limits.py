"""Rate limits over HTTP on both brokers: 429 + Retry-After + JSON, `rate_limited` on
/metrics, shared by every instance on Redis, off with a rate of 0."""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import PUBLISH, Served

PUB = {"Authorization": f"Bearer {PUBLISH}"}


async def publish(client: httpx.AsyncClient, served: Served) -> httpx.Response:
    return await client.post(f"{served.url}/v1/notifications", json={"user_id": "rl", "data": 1}, headers=PUB)


async def metric(client: httpx.AsyncClient, served: Served, line: str) -> float:
    text = (await client.get(f"{served.url}/metrics")).text
    [value] = [row.rsplit(" ", 1)[1] for row in text.splitlines() if row.startswith(line + " ")]
    return float(value)


async def test_a_publisher_over_its_bucket_gets_429_with_retry_after_and_nothing_is_stored(make_server) -> None:
    async with make_server(publish_rate=0.2, publish_burst=2) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            statuses = [(await publish(client, served)).status_code for _ in range(2)]
            refused = await publish(client, served)
            assert statuses == [202, 202]
            assert refused.status_code == 429
            assert refused.json()["error"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 5
            assert int(refused.headers["retry-after"]) == refused.json()["retry_after"]
            inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("rl"))).json()
            assert len(inbox["notifications"]) == 2
            assert await metric(client, served, 'sse_publish_rejected_total{reason="rate_limited"}') == 1


async def test_a_user_over_its_stream_attempts_gets_429_rate_limited(make_server) -> None:
    async with make_server(stream_rate=0.1, stream_burst=1) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", f"{served.url}/v1/stream", headers=served.auth("eager")) as first:
                assert first.status_code == 200
            second = await client.get(f"{served.url}/v1/stream", headers=served.auth("eager"))
            assert second.status_code == 429 and second.json()["error"] == "rate_limited"
            assert 1 <= int(second.headers["retry-after"]) <= 10
            async with client.stream("GET", f"{served.url}/v1/stream", headers=served.auth("someone-else")) as other:
                assert other.status_code == 200
            assert await metric(client, served, 'sse_connections_rejected_total{reason="rate_limited"}') == 1


async def test_a_rate_of_zero_turns_the_limit_off(make_server) -> None:
    async with make_server(publish_rate=0, publish_burst=1) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            assert {(await publish(client, served)).status_code for _ in range(5)} == {202}


@pytest.mark.redis
async def test_on_redis_every_instance_draws_from_the_same_bucket(redis_url: str, redis_prefix: str) -> None:
    from tests.support.gates import SwitchableGate
    from tests.support.inprocess import server_settings, serving

    shared = {"broker": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "publish_rate": 0.2, "publish_burst": 2}
    async with (
        serving(server_settings(**shared), flag_gate=SwitchableGate()) as one,
        serving(server_settings(**shared), flag_gate=SwitchableGate()) as two,
    ):
        async with httpx.AsyncClient(timeout=10) as client:
            statuses = [(await publish(client, served)).status_code for served in (one, two, one, two)]
    assert statuses == [202, 202, 429, 429]
