"""The same rollout against a real unleash-server: the Unleash Admin API admin, a service polling Unleash."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from flags import UnleashFlagAdmin
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)
from tests.rollout.test_rollout_end_to_end import Rollout, keep_listening, publish_forever, until
from tests.support.server import start_server

pytestmark = [pytest.mark.unleash, pytest.mark.slow]

PLAN = """
flag = "{flag}"
failure_limit = 3
min_traffic = 5
interval = "1s"
bake_time = "2s"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "delivery_p99_seconds"
max = 2.5
[[gates]]
measure = "error_ratio"
"""


async def test_the_controller_drives_a_real_unleash_from_allowlist_to_everyone(unleash: UnleashServer, tmp_path: Path):  # noqa: F811
    flag = f"sse-delivery-{uuid.uuid4().hex[:8]}"
    admin = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag)
    await admin.set_rollout(0)
    await admin.disable()
    server = await asyncio.to_thread(
        start_server,
        {
            "FLAGSTREAM_UNLEASH_URL": unleash.url,
            "FLAGSTREAM_UNLEASH_API_TOKEN": unleash.client_token,
            "FLAGSTREAM_ROLLOUT_FLAG": flag,
            "FLAGSTREAM_FLAGS_REFRESH_INTERVAL": "0.5",
        },
    )
    try:
        rollout = Rollout(
            tmp_path, server, PLAN.format(flag=flag), ["--unleash-url", unleash.url, "--unleash-admin-token", unleash.admin_token]
        )
        users = ["alice", "bob", "carol", "dave"]
        seen: dict[str, list[str]] = {}
        async with httpx.AsyncClient(timeout=30) as client:
            tasks = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in users]
            tasks.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.02)))
            try:
                await until(lambda: all(user in seen for user in users), 30, "every user to try a stream")
                assert seen["bob"][0] == "204"
                started = rollout.run("start")
                assert started.returncode == 0, started.stderr
                with rollout.watching() as log:
                    await until(lambda: rollout.phase() == "completed", 120, "the rollout to complete")
                await until(lambda: all("notification" in seen[user] for user in users), 30, "everyone to stream")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        state = await admin.state()
        assert (state.enabled, state.percentage) == (True, 100), log.read_text()
        actions = [t["action"] for t in rollout.json("history") if t["action"] != "hold"]
        assert actions == ["start", "advance", "complete"]
    finally:
        server.stop()
