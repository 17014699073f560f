"""Redis going away degrades, never crashes: not ready, publish 503, reconnect, resume."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.gates import SwitchableGate
from tests.support.inprocess import open_stream, server_settings, serving
from tests.support.redis_server import free_port, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]


async def status(client: httpx.AsyncClient, url: str) -> int:
    return (await client.get(url)).status_code


async def test_redis_outage_then_recovery(redis_prefix: str) -> None:
    port = free_port()
    redis_process = start_redis(port)
    settings = server_settings(broker="redis", redis_url=f"redis://127.0.0.1:{port}/0", redis_prefix=redis_prefix)
    try:
        async with serving(settings, flag_gate=SwitchableGate()) as served, httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("o")) as stream:
                await stream.next()
                ids = await served.publish({"user_id": "o", "data": "before"})
                assert (await stream.next()).id == ids[0]

                redis_process.terminate()
                await asyncio.to_thread(redis_process.wait)
                # fan-out may have missed events: the stream is told to reconnect and resume
                assert (await stream.next(timeout=10)).event == "shutdown"

            ready = await client.get(f"{served.url}/readyz", headers={"Authorization": f"Bearer {served.settings.admin_token}"})
            assert ready.status_code == 503 and ready.json()["broker"]["state"] == "unavailable"
            r = await client.post(
                f"{served.url}/v1/notifications",
                json={"user_id": "o", "data": 1},
                headers={"Authorization": f"Bearer {served.settings.publish_token}"},
            )
            assert r.status_code == 503 and r.json()["error"] == "unavailable"
            r = await client.get(f"{served.url}/v1/stream", headers=served.auth("o"))
            assert r.status_code == 503 and r.headers["retry-after"]

            redis_process = start_redis(port)
            ready_again = False

            async def check() -> None:
                nonlocal ready_again
                ready_again = await status(client, f"{served.url}/readyz") == 200

            for _ in range(200):
                await check()
                if ready_again:
                    break
                await asyncio.sleep(0.05)
            assert ready_again, "the broker did not reconnect by itself"
            async with open_stream(client, served.url, served.auth("o")) as stream:
                await stream.next()
                ids = await served.publish({"user_id": "o", "data": "after"})
                assert (await stream.next()).id == ids[0]
    finally:
        redis_process.terminate()
        redis_process.wait(5)
