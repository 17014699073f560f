"""/readyz answers within its own deadline, whatever the broker does."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.support.gates import SwitchableGate
from tests.support.inprocess import ADMIN, server_settings, serving
from tests.support.redis_server import free_port, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]


ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def test_readyz_answers_503_within_its_deadline_while_redis_is_paused(redis_prefix: str) -> None:
    port = free_port()
    redis_process = start_redis(port)
    settings = server_settings(
        broker="redis", redis_url=f"redis://127.0.0.1:{port}/0", redis_prefix=redis_prefix, ready_timeout=0.5
    )
    try:
        async with serving(settings, flag_gate=SwitchableGate()) as served, httpx.AsyncClient() as client:
            assert (await client.get(f"{served.url}/readyz", timeout=5)).status_code == 200
            os.kill(redis_process.pid, signal.SIGSTOP)
            try:
                # A probe with a 2 s timeout (a 1 s probe period is common): the Redis client's
                # own 5 s socket timeout must not be what answers it.
                for _ in range(3):
                    r = await client.get(f"{served.url}/readyz", timeout=2, headers=ADMIN_AUTH)  # details need admin
                    assert r.status_code == 503
                    body = r.json()
                    assert body["broker"]["state"] == "timeout" and body["broker"]["last_known"] == "ok"
                    assert "did not answer within 0.5 s" in body["reason"]
            finally:
                os.kill(redis_process.pid, signal.SIGCONT)
            for _ in range(100):
                r = await client.get(f"{served.url}/readyz", timeout=5)
                if r.status_code == 200:
                    break
            assert r.status_code == 200, r.text
    finally:
        redis_process.terminate()
        redis_process.wait(5)
