"""The embedded default end to end: the flags file decides who streams, and edits reach open streams."""

import time
from pathlib import Path

import httpx

from flags import FileFlagAdmin
from tests.flags.expected import unleash_bucket
from tests.support.inprocess import open_stream, server_settings, serving

REFRESH = 0.2


async def test_flags_file_rollout_204_and_disabled_on_open_streams(tmp_path: Path):
    path = tmp_path / "flags.json"
    admin = FileFlagAdmin(path)
    await admin.set_rollout(30)
    await admin.enable()
    users = [f"user-{n}" for n in range(100)]
    inside = next(u for u in users if unleash_bucket("sse-delivery", u) <= 30)
    outside = next(u for u in users if unleash_bucket("sse-delivery", u) > 30)
    settings = server_settings(broker="memory", flags_file=str(path), flags_refresh_interval=REFRESH)
    async with serving(settings) as served, httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{served.url}/v1/stream", headers=served.auth(outside))).status_code == 204
        async with open_stream(client, served.url, served.auth(inside)) as stream:
            assert (await stream.next()).event == "connected"
            await admin.disable()
            started = time.monotonic()
            last = await stream.next(timeout=REFRESH + 1.0)
            assert last.event == "disabled"
            assert time.monotonic() - started <= REFRESH + 1.0
        assert (await client.get(f"{served.url}/v1/stream", headers=served.auth(inside))).status_code == 204


async def test_the_shipped_default_lets_everyone_stream():
    settings = server_settings(broker="memory")
    async with serving(settings) as served, httpx.AsyncClient(timeout=10) as client:
        for user in ("alice", "bob", "carol"):
            async with open_stream(client, served.url, served.auth(user)) as stream:
                assert stream.response.status_code == 200
                assert (await stream.next()).event == "connected"
