"""Issue 11's safeguards end to end against a real unleash-server: a no-data deadline that
pauses and tells the webhook, and the guard window after completion rolling back to the
previous step. Figures (printed with -s): decision → flag change served, flag change → last
`disabled`."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from flags import UnleashFlagAdmin
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)
from tests.rollout.http_fixtures import Receiver, webhook_receiver
from tests.rollout.test_rollout_end_to_end import Rollout, keep_listening, publish_forever, until
from tests.support.server import start_server

pytestmark = [pytest.mark.unleash, pytest.mark.slow]

NO_DATA_PLAN = """
flag = "{flag}"
min_traffic = 50
interval = "1s"
bake_time = "1h"
no_data_limit = 3
on_deadline = "pause"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100
"""

GUARD_PLAN = """
flag = "{flag}"
failure_limit = 2
min_traffic = 5
interval = "1s"
bake_time = "2s"
guard_window = "2m"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "rejection_ratio"
max = 0.05
"""


async def unleash_flag(unleash: UnleashServer) -> tuple[str, UnleashFlagAdmin]:  # noqa: F811
    flag = f"sse-delivery-{uuid.uuid4().hex[:8]}"
    admin = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag)
    await admin.set_rollout(0)
    await admin.disable()
    return flag, admin


def serve_from_unleash(unleash: UnleashServer, flag: str, **env: str):  # noqa: F811  # type: ignore[no-untyped-def]
    return start_server(
        {
            "FLAGSTREAM_UNLEASH_URL": unleash.url,
            "FLAGSTREAM_UNLEASH_API_TOKEN": unleash.client_token,
            "FLAGSTREAM_ROLLOUT_FLAG": flag,
            "FLAGSTREAM_FLAGS_REFRESH_INTERVAL": "0.2",
            **env,
        }
    )


async def test_no_data_past_the_limit_pauses_and_tells_the_webhook(unleash: UnleashServer, tmp_path: Path) -> None:  # noqa: F811
    flag, _ = await unleash_flag(unleash)
    server = await asyncio.to_thread(serve_from_unleash, unleash, flag)
    receiver = Receiver()
    try:
        rollout = Rollout(
            tmp_path,
            server,
            NO_DATA_PLAN.format(flag=flag),
            ["--unleash-url", unleash.url, "--unleash-admin-token", unleash.admin_token],
        )
        with webhook_receiver(receiver) as hook:
            assert rollout.run("start").returncode == 0
            started = time.time()
            with rollout.watching("--webhook-url", hook):
                await until(lambda: rollout.phase() == "paused", 30, "the no-data deadline")
                await until(lambda: any(b["action"] == "pause" for b in receiver.bodies), 10, "the webhook")
    finally:
        server.stop()
    history = rollout.json("history")
    [pause] = [t for t in history if t["action"] == "pause"]
    assert pause["actor"] == "controller" and "no data for 3 checks in a row (no_data_limit 3)" in pause["reason"]
    assert [t["action"] for t in history] == ["start", "pause"]
    [body] = [b for b in receiver.bodies if b["action"] == "pause"]
    assert body["flag"] == flag and body["reason"] == pause["reason"]
    print(f"\nno-data deadline: start → pause {pause['time'] - started:.2f} s (3 checks of 1 s)")


async def test_the_guard_window_after_completion_rolls_back_to_the_previous_step(unleash: UnleashServer, tmp_path: Path) -> None:  # noqa: F811
    flag, admin = await unleash_flag(unleash)
    server = await asyncio.to_thread(serve_from_unleash, unleash, flag, FLAGSTREAM_MAX_CONNECTIONS_PER_USER="1")
    try:
        rollout = Rollout(
            tmp_path,
            server,
            GUARD_PLAN.format(flag=flag),
            ["--unleash-url", unleash.url, "--unleash-admin-token", unleash.admin_token],
        )
        seen: dict[str, list[str]] = {}
        disabled_at: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=30) as client:
            tasks = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in ("alice", "bob", "carol")]
            tasks.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.05)))
            tasks.append(asyncio.create_task(_note_disabled(seen, disabled_at)))
            try:
                assert rollout.run("start").returncode == 0
                with rollout.watching() as log:
                    await until(lambda: rollout.phase() == "completed", 60, "the rollout to complete")
                    await until(lambda: "notification" in seen.get("bob", []), 30, "bob to stream")
                    # The fault after completion: a second stream per user is refused (user_limit).
                    tasks.append(asyncio.create_task(_second_streams(client, server, "bob")))
                    await until(lambda: rollout.phase() == "rolled_back", 30, "the guard-window rollback")
                    decided = time.time()
                    await asyncio.to_thread(unleash.wait_served, flag, enabled=True, rollout=0)
                    served = time.time()
                    await until(lambda: "bob" in disabled_at and "carol" in disabled_at, 30, "bob and carol to get disabled")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.stop()
    history = rollout.json("history")
    assert [t["action"] for t in history if t["action"] != "hold"] == ["start", "advance", "complete", "rollback"], (
        log.read_text()
    )
    rollback = history[-1]
    assert rollback["from_phase"] == "completed" and rollback["to_step"] == "internal"
    assert "guard window after completion" in rollback["reason"] and "rejection_ratio" in rollback["reason"]
    state = await admin.state()
    assert (state.enabled, state.percentage, state.allowlist) == (True, 0, ("alice",))
    assert "disabled" not in seen["alice"], "the previous step's audience keeps streaming"
    print(
        f"\nguard window: decision → Unleash serves the change {served - rollback['time']:.2f} s (measured from "
        f"{decided - rollback['time']:.2f} s after it); decision → last disabled "
        f"{max(disabled_at.values()) - rollback['time']:.2f} s"
    )


async def _note_disabled(seen: dict[str, list[str]], disabled_at: dict[str, float]) -> None:
    while True:
        for user, events in seen.items():
            if "disabled" in events and user not in disabled_at:
                disabled_at[user] = time.time()
        await asyncio.sleep(0.01)


async def _second_streams(client: httpx.AsyncClient, server, user: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {server.user_token(user)}"}
    while True:
        async with client.stream("GET", f"{server.url}/v1/stream", headers=headers) as response:
            if response.status_code == 200:
                await response.aclose()
        await asyncio.sleep(0.02)
