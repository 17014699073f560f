"""The capacity gate end to end: a real `flagstream serve` scraped by a real Prometheus; the
controller projects the next step's connections from today's connections per enabled user and
holds, with the arithmetic in the audit log, because the fleet's MAX_CONNECTIONS × headroom
would not carry them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from flags import FileFlagAdmin
from tests.flags.expected import unleash_bucket
from tests.rollout.test_rollout_end_to_end import Rollout, flagstream, keep_listening, publish_forever, until
from tests.support.prometheus import prometheus_scraping

pytestmark = [pytest.mark.slow, pytest.mark.prometheus]

PLAN = """
flag = "sse-delivery"
min_traffic = 5
interval = "3s"
bake_time = "3s"
capacity_headroom = 0.8

[[steps]]
name = "ten"
percentage = 10

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "error_ratio"
"""


async def test_the_next_step_is_held_when_its_projected_connections_exceed_the_fleet_limit(tmp_path: Path) -> None:
    candidates = [f"cap-{n}" for n in range(200)]
    inside = [u for u in candidates if unleash_bucket("sse-delivery", u) <= 10][:4]
    assert len(inside) == 4
    async with flagstream(tmp_path, FLAGSTREAM_MAX_CONNECTIONS="20") as (server, flags_file):
        with prometheus_scraping([server.url.removeprefix("http://")], tmp_path) as prometheus_url:
            rollout = Rollout(tmp_path, server, PLAN, ["--flags-file", str(flags_file)], ["--prometheus-url", prometheus_url])
            seen: dict[str, list[str]] = {}
            async with httpx.AsyncClient(timeout=30) as client:
                # Every user in the rollout keeps two streams (two tabs): 8 connections, 4 users.
                tasks = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in inside + inside]
                tasks.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.05)))
                try:
                    assert rollout.run("start").returncode == 0
                    with rollout.watching() as log:
                        await until(
                            lambda: any(t["reason"].startswith("capacity") for t in _history(rollout)), 90, "the capacity hold"
                        )
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
    [hold] = [t for t in rollout.json("history") if t["action"] == "hold" and t["reason"].startswith("capacity")]
    assert hold["reason"] == (
        "capacity: everyone (100%) projects 80 connections = 2.00 connections per enabled user × 40 users "
        "(4 streaming at 10% × 100/10) > 16 = sse_connections_limit 20 × headroom 0.8"
    ), log.read_text()
    assert rollout.json("status")["step"] == "ten"
    assert (await FileFlagAdmin(flags_file).state()).percentage == 10


def _history(rollout: Rollout) -> list[dict]:
    done = rollout.run("history", "--json")
    return [] if done.returncode else json.loads(done.stdout)
