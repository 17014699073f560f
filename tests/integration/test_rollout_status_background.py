"""The rollout panel of any instance, read in the background (issues 13.2 and 14.8).

Every instance that can read the rollout state (a file, or Redis) shows where the rollout is,
whether or not it runs the controller and whether or not it has the plan file; the read runs
in a task of the serving lifecycle and `/v1/admin/stats` serves the cached value, so a dead
state store never stalls a request, and no credential reaches a body or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis

from rollout.store import open_store
from rollout.types import ControllerState, GateReading, Phase, Transition, Verdict
from tests.support.inprocess import ADMIN, server_settings, serving
from tests.support.redis_server import free_port

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
PASSWORD = "s3cret-pass-4-rollout"
PLAN = """
flag = "sse-delivery"
bake_time = "10m"
interval = "1m"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "five"
percentage = 5
"""


@contextlib.asynccontextmanager
async def dead_state_store() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers: a hung Redis."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass

    port = free_port()
    server = await asyncio.start_server(swallow, "127.0.0.1", port)
    try:
        yield port
    finally:
        for writer in held:
            writer.close()
        server.close()


async def poll_stats(url: str, until, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            body = (await client.get(f"{url}/v1/admin/stats", headers=ADMIN_AUTH)).json()
            if until(body["rollout"]):
                return body
            assert time.monotonic() < deadline, f"rollout never showed as expected: {body['rollout']}"
            await asyncio.sleep(0.1)


async def write_rollout(target: str, flag: str = "sse-delivery") -> None:
    """A rollout at its second step, with one passing check, written with the real store."""
    store = open_store(target, flag)
    now = time.time()
    reading = GateReading("error_ratio", 0.0, "<= 0.01", 800, Verdict.PASS)
    await store.save(
        ControllerState(
            flag=flag,
            phase=Phase.PROGRESSING,
            step=1,
            phase_since=now - 120,
            step_since=now - 120,
            next_check_at=now + 30,
            last_check=(reading,),
            last_check_at=now - 30,
            message="all gates passing",
        )
    )
    await store.append_transition(
        Transition(
            time=now - 120,
            actor="controller",
            action="advance",
            from_phase="progressing",
            to_phase="progressing",
            from_step="internal",
            to_step="five",
            percentage=5,
            reason="baked 10m00s with every gate passing",
        )
    )
    await store.close()


async def test_an_instance_without_the_controller_or_the_plan_shows_the_rollout(tmp_path: Path, gate) -> None:
    state = tmp_path / "rollout-state.json"
    await write_rollout(str(state))
    settings = server_settings(rollout_state=str(state), rollout_plan=str(tmp_path / "no-plan-here.toml"))
    async with serving(settings, flag_gate=gate) as served:
        body = await poll_stats(served.url, lambda r: r.get("phase") is not None)
    rollout = body["rollout"]
    assert rollout["phase"] == "progressing"
    assert rollout["step"] == "five" and rollout["percentage"] == 5
    assert 100 <= rollout["seconds_in_step"] < 600
    assert rollout["gates"][0]["gate"] == "error_ratio" and rollout["gates"][0]["verdict"] == "pass"


@pytest.mark.redis
async def test_an_instance_reads_a_redis_rollout_state_with_the_plan(tmp_path: Path, redis_url: str, gate) -> None:
    flag = f"test-{uuid.uuid4().hex[:12]}"  # the Redis is shared: keys of our own
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN.replace('"sse-delivery"', f'"{flag}"'))
    await write_rollout(redis_url, flag)
    try:
        settings = server_settings(rollout_state=redis_url, rollout_plan=str(plan))
        async with serving(settings, flag_gate=gate) as served:
            body = await poll_stats(served.url, lambda r: r.get("phase") is not None)
    finally:
        with redis.Redis.from_url(redis_url) as client:
            for key in client.scan_iter(f"flagstream:rollout:{flag}:*"):
                client.delete(key)
    rollout = body["rollout"]
    assert (rollout["phase"], rollout["step"], rollout["percentage"]) == ("progressing", "five", 5)
    assert rollout["bake_time"] == 600 and rollout["steps"] == 2
    assert "advance" in rollout["next_action"] or "complete" in rollout["next_action"]


@pytest.mark.slow
async def test_a_dead_state_store_does_not_stall_stats(tmp_path: Path, gate) -> None:
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    async with dead_state_store() as port:
        state = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
        async with serving(server_settings(rollout_state=state, rollout_plan=str(plan)), flag_gate=gate) as served:
            async with httpx.AsyncClient(timeout=10) as client:
                slowest = 0.0
                for _ in range(5):
                    started = time.perf_counter()
                    response = await client.get(f"{served.url}/v1/admin/stats", headers=ADMIN_AUTH)
                    slowest = max(slowest, time.perf_counter() - started)
                    assert response.status_code == 200
                    assert PASSWORD not in response.text
    # The old synchronous read waited out its 1 s socket timeout on every request.
    assert slowest < 0.5, f"/v1/admin/stats took {slowest:.2f} s with a hung state store"


async def test_no_state_store_password_in_the_body_or_the_logs(tmp_path: Path, gate, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    state = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"  # nothing listens: connection refused
    async with serving(server_settings(rollout_state=state, rollout_plan=str(plan)), flag_gate=gate) as served:
        body = await poll_stats(served.url, lambda r: "error" in r)
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", f"{served.url}/dashboard/stream", headers=ADMIN_AUTH) as feed:
                first = ""
                async for line in feed.aiter_lines():
                    first += line
                    if line.startswith("data:"):
                        break
    text = json.dumps(body)
    assert PASSWORD not in text and PASSWORD not in first
    assert "redis://:***@127.0.0.1" in body["rollout"]["error"]
    assert PASSWORD not in caplog.text
