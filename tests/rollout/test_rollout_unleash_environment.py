"""Issue 11 defect 1: the in-service controller writes to the Unleash environment the service reads.

Against a real unleash-server: a controller configured for another environment than the
service's client token refuses to start (one line, exit 2); configured for `production`,
it drives production and leaves development alone.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from flags import UnleashFlagAdmin
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)
from tests.rollout.test_rollout_end_to_end import keep_listening, publish_forever
from tests.support.server import start_server

pytestmark = [pytest.mark.unleash, pytest.mark.slow]

PLAN = """
flag = "{flag}"
failure_limit = 3
min_traffic = 5
interval = "1s"
bake_time = "1s"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "error_ratio"
"""


def test_a_controller_writing_to_another_environment_than_the_service_reads_refuses_to_start(
    unleash: UnleashServer, tmp_path: Path
):  # noqa: F811
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN.format(flag="sse-delivery"))
    try:
        started = start_server(
            {
                "FLAGSTREAM_UNLEASH_URL": unleash.api_url,
                "FLAGSTREAM_UNLEASH_API_TOKEN": unleash.client_token,  # reads development
                "FLAGSTREAM_UNLEASH_ADMIN_TOKEN": unleash.admin_token,
                "FLAGSTREAM_UNLEASH_ENVIRONMENT": "production",  # the controller would write production
                "FLAGSTREAM_ROLLOUT_CONTROLLER": "true",
                "FLAGSTREAM_ROLLOUT_PLAN": str(plan),
                "FLAGSTREAM_ROLLOUT_STATE": str(tmp_path / "state.json"),
            }
        )
    except RuntimeError as failed:
        message = str(failed)
    else:
        started.stop()
        pytest.fail("the service started with its controller writing to another environment")
    assert "exited with 2" in message
    [line] = [line for line in message.splitlines()[1:] if line.strip()]
    assert "FLAGSTREAM_UNLEASH_ENVIRONMENT:" in line and "'production'" in line and "'development'" in line
    assert unleash.secret not in message


async def test_the_in_service_controller_drives_the_environment_it_is_configured_for(unleash: UnleashServer, tmp_path: Path):  # noqa: F811
    from rollout import RolloutOptions
    from rollout.factory import open_controller

    flag = f"sse-delivery-{uuid.uuid4().hex[:8]}"
    production = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag, environment="production")
    development = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag, environment="development")
    await production.set_rollout(0)
    await production.disable()
    await development.set_rollout(0)
    await development.disable()
    plan, state = tmp_path / "rollout.toml", tmp_path / "state.json"
    plan.write_text(PLAN.format(flag=flag))
    server = await asyncio.to_thread(
        start_server,
        {
            "FLAGSTREAM_UNLEASH_URL": unleash.api_url,
            "FLAGSTREAM_UNLEASH_API_TOKEN": unleash.production_client_token,
            "FLAGSTREAM_UNLEASH_ADMIN_TOKEN": unleash.admin_token,
            "FLAGSTREAM_UNLEASH_ENVIRONMENT": "production",
            "FLAGSTREAM_ROLLOUT_FLAG": flag,
            "FLAGSTREAM_FLAGS_REFRESH_INTERVAL": "0.5",
            "FLAGSTREAM_ROLLOUT_CONTROLLER": "true",
            "FLAGSTREAM_ROLLOUT_PLAN": str(plan),
            "FLAGSTREAM_ROLLOUT_STATE": str(state),
        },
    )
    # The admin URL the controller uses is the service's UNLEASH_URL minus /api.
    try:
        options = RolloutOptions(
            plan=str(plan),
            state=str(state),
            unleash_url=unleash.url,
            unleash_admin_token=unleash.admin_token,
            unleash_environment="production",
        )
        seen: dict[str, list[str]] = {}
        admin_headers = {"Authorization": f"Bearer {server.admin_token}"}
        async with httpx.AsyncClient(timeout=30) as client:
            traffic = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in ("alice", "bob")]
            traffic.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.02)))
            try:
                async with open_controller(options, needs_flags=True, needs_metrics=False) as manual:
                    await manual.start(actor="release-manager")
                deadline = asyncio.get_running_loop().time() + 90
                while True:
                    stats = (await client.get(f"{server.url}/v1/admin/stats", headers=admin_headers)).json()
                    if (stats["rollout"] or {}).get("phase") == "completed":
                        break
                    assert asyncio.get_running_loop().time() < deadline, (stats["rollout"], server.log()[-3000:])
                    await asyncio.sleep(0.2)
            finally:
                for task in traffic:
                    task.cancel()
                await asyncio.gather(*traffic, return_exceptions=True)
        written = await production.state()
        untouched = await development.state()
        assert (written.enabled, written.percentage) == (True, 100)
        assert (untouched.enabled, untouched.percentage) == (False, 0)
        assert "notification" in seen["bob"], "bob streams once production reaches 100 %"
    finally:
        server.stop()
