"""Regression: a PING_INTERVAL under one second was accepted but pings left only on the
hub's one-second tick, so a proxy timeout tuned to it cut idle streams."""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from tests.support.inprocess import open_stream, server_settings, serving


def _server_time(data: str) -> float:
    return datetime.fromisoformat(json.loads(data)["server_time"].replace("Z", "+00:00")).timestamp()


async def test_a_sub_second_ping_interval_is_honoured() -> None:
    async with serving(server_settings(ping_interval=0.3)) as served, httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("pinged")) as stream:
            assert (await stream.next()).event == "connected"
            pings = [await stream.next(timeout=5, skip_pings=False) for _ in range(4)]
    assert [p.event for p in pings] == ["ping"] * 4
    gaps = [_server_time(b.data) - _server_time(a.data) for a, b in zip(pings, pings[1:])]
    assert max(gaps) < 0.8, gaps  # the one-second tick made every gap ≈ 1 s
