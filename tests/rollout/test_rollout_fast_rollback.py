"""Fast and honest rollback, end to end: a real `flagstream serve`, the real flags-file admin, and
`flagstream rollout watch` scraping /metrics, with a slow-consumer flood as the fault.

Figures (printed with -s, written to docs/rollout.md): fault → rollback decision, and
decision → flag change as the service sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import pytest

from flags import FileFlagAdmin
from tests.rollout.test_rollout_end_to_end import Rollout, flagstream, until
from tests.support.inprocess import open_stream

pytestmark = pytest.mark.slow

PLAN = """
flag = "sse-delivery"
failure_limit = {failure_limit}
min_traffic = 1
interval = "1s"
bake_time = "1h"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "slow_consumer_disconnects_per_minute"
max = 6
{abort}
"""


async def flood_until_rolled_back(
    client: httpx.AsyncClient, server, rollout: Rollout, streams: contextlib.AsyncExitStack
) -> float:  # type: ignore[no-untyped-def]
    """Open never-read streams and overflow them until the rollout rolls back; returns when the fault began."""
    auth = lambda user: {"Authorization": f"Bearer {server.user_token(user)}"}
    publish = {"Authorization": f"Bearer {server.publish_token}"}
    blob = "x" * 60_000
    began = None
    for round_number in range(200):
        if rollout.phase() == "rolled_back":
            break
        slow = f"slow-{round_number}"
        await streams.enter_async_context(open_stream(client, server.url, auth(slow)))
        began = began or time.time()
        for _ in range(5):
            r = await client.post(
                f"{server.url}/v1/notifications", headers=publish, json={"notifications": [{"user_id": slow, "data": blob}] * 20}
            )
            assert r.status_code == 202, r.text
        await asyncio.sleep(0.2)
    assert began is not None
    return began


async def light_traffic(client: httpx.AsyncClient, server) -> None:  # type: ignore[no-untyped-def]
    """Enough deliveries every window that the gates read data (min_traffic)."""
    headers = {"Authorization": f"Bearer {server.publish_token}"}
    while True:
        await client.post(f"{server.url}/v1/notifications", headers=headers, json={"user_id": "alice", "data": "light"})
        await asyncio.sleep(0.05)


async def run_fault(tmp_path: Path, plan: str) -> tuple[Rollout, float, Path, float]:
    """Returns the rollout, when the fault began, the flags file, and when bob (who leaves) got `disabled`."""
    async with flagstream(tmp_path, FLAGSTREAM_QUEUE_SIZE="2") as (server, flags_file):
        rollout = Rollout(tmp_path, server, plan, ["--flags-file", str(flags_file)])
        assert rollout.run("start", "--step", "everyone").returncode == 0
        auth = lambda user: {"Authorization": f"Bearer {server.user_token(user)}"}
        async with httpx.AsyncClient(timeout=60) as client, contextlib.AsyncExitStack() as streams:
            reader = await streams.enter_async_context(open_stream(client, server.url, auth("alice")))
            leaver = await streams.enter_async_context(open_stream(client, server.url, auth("bob")))
            for stream in (reader, leaver):
                assert (await stream.next(timeout=10)).event == "connected"
            light = asyncio.create_task(light_traffic(client, server))
            try:
                with rollout.watching():
                    await until(lambda: len(_checks(rollout)) >= 2, 30, "two healthy checks")
                    began = await flood_until_rolled_back(client, server, rollout, streams)
                    await until(lambda: rollout.phase() == "rolled_back", 30, "the rollback")
                    while (await leaver.next(timeout=10)).event != "disabled":
                        pass
                    disabled_at = time.time()
            finally:
                light.cancel()
                await asyncio.gather(light, return_exceptions=True)
    return rollout, began, flags_file, disabled_at


def _checks(rollout: Rollout) -> list[dict]:
    try:
        return rollout.checks()
    except FileNotFoundError:
        return []


async def test_abort_above_rolls_back_on_the_first_bad_reading(tmp_path: Path) -> None:
    rollout, began, flags_file, disabled_at = await run_fault(tmp_path, PLAN.format(failure_limit=5, abort="abort_above = 30"))
    [rollback] = [t for t in rollout.json("history") if t["action"] == "rollback"]
    assert rollback["actor"] == "controller" and "abort_above" in rollback["reason"]
    checks = [c for c in rollout.checks() if c["time"] <= rollback["time"]]
    assert checks[-1]["verdict"] == "fail" and all(c["verdict"] != "fail" for c in checks[:-1]), (
        "rolled back at the first failing check, not the failure_limit-th"
    )
    flag = await FileFlagAdmin(flags_file).state()
    assert (flag.percentage, flag.allowlist) == (0, ("alice",))
    print(
        f"\nabort_above: fault → rollback decision {rollback['time'] - began:.2f} s; "
        f"decision (flags file written) → bob's disabled {disabled_at - rollback['time']:.2f} s"
    )


async def test_fault_to_rollback_decision_within_failure_limit_intervals_plus_one_second(tmp_path: Path) -> None:
    failure_limit, interval = 3, 1.0
    rollout, began, _, _ = await run_fault(tmp_path, PLAN.format(failure_limit=failure_limit, abort=""))
    [rollback] = [t for t in rollout.json("history") if t["action"] == "rollback"]
    took = rollback["time"] - began
    print(f"\nfailure_limit {failure_limit} × interval {interval:g} s: fault → rollback decision {took:.2f} s")
    assert took <= failure_limit * interval + 1.0
