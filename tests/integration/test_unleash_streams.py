"""Flags as a user of the stream sees them, with the real gate over a real unleash-server."""

import asyncio
import time
import uuid

import httpx
import pytest

from flags import UnleashFlagAdmin
from tests.flags.expected import unleash_bucket
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)
from tests.support.inprocess import open_stream, server_settings, serving

pytestmark = [pytest.mark.unleash, pytest.mark.slow]

REFRESH = 1.0


def users_by_bucket(flag: str, percent: int) -> tuple[str, str]:
    """One user inside a ``percent`` rollout of ``flag`` and one outside it."""
    users = [f"user-{n}" for n in range(200)]
    inside = next(u for u in users if unleash_bucket(flag, u) <= percent)
    outside = next(u for u in users if unleash_bucket(flag, u) > percent)
    return inside, outside


async def wait_ready(client: httpx.AsyncClient, url: str) -> None:
    """Like an orchestrator: wait for /readyz (503 until the first flag state is known)."""
    deadline = time.monotonic() + 30
    while (await client.get(f"{url}/readyz")).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail("/readyz never turned 200")
        await asyncio.sleep(0.05)


async def rollout(server: UnleashServer, percent: int) -> tuple[str, UnleashFlagAdmin]:
    flag = f"sse-delivery-{uuid.uuid4().hex[:8]}"
    admin = UnleashFlagAdmin(server.url, admin_token=server.admin_token, flag=flag)
    await admin.set_rollout(percent)
    await admin.enable()
    await asyncio.to_thread(server.wait_served, flag, enabled=True, rollout=percent)
    return flag, admin


def settings_for(server: UnleashServer, flag: str):
    return server_settings(
        broker="memory",
        unleash_url=server.url,
        unleash_api_token=server.client_token,
        rollout_flag=flag,
        flags_refresh_interval=REFRESH,
    )


async def test_users_outside_the_rollout_get_204_and_poll(unleash: UnleashServer):
    flag, _ = await rollout(unleash, 25)
    inside, outside = users_by_bucket(flag, 25)
    async with serving(settings_for(unleash, flag)) as served, httpx.AsyncClient(timeout=10) as client:
        await wait_ready(client, served.url)
        refused = await client.get(f"{served.url}/v1/stream", headers=served.auth(outside))
        assert refused.status_code == 204
        assert refused.content == b""
        inbox = await client.get(f"{served.url}/v1/notifications", headers=served.auth(outside))
        assert inbox.status_code == 200
        async with open_stream(client, served.url, served.auth(inside)) as stream:
            assert stream.response.status_code == 200
            assert (await stream.next()).event == "connected"


async def test_turning_the_flag_off_ends_open_streams_with_disabled(unleash: UnleashServer):
    flag, admin = await rollout(unleash, 100)
    inside = "user-1"  # a 100 % rollout has everyone inside
    async with serving(settings_for(unleash, flag)) as served, httpx.AsyncClient(timeout=10) as client:
        await wait_ready(client, served.url)
        async with open_stream(client, served.url, served.auth(inside)) as stream:
            assert (await stream.next()).event == "connected"
            await admin.disable()
            await asyncio.to_thread(unleash.wait_served, flag, enabled=False)
            # One refresh interval for the gate to poll, plus a second for the stream.
            last = await stream.next(timeout=REFRESH + 1.0)
            assert last.event == "disabled"
        again = await client.get(f"{served.url}/v1/stream", headers=served.auth(inside))
        assert again.status_code == 204
