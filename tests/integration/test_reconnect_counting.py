"""`sse_reconnects_total`: resumes and quick repeats are reconnects, a `204` is not (issue 11, defect 2)."""

from __future__ import annotations

import asyncio

import httpx

from sse_service.reconnects import ReconnectCounter
from tests.support.gates import SwitchableGate
from tests.support.inprocess import open_stream, server_settings, serving


def reconnects(metrics_text: str) -> dict[str, float]:
    return {
        kind: float(line.rsplit(" ", 1)[1])
        for kind in ("resumed", "repeat")
        for line in metrics_text.splitlines()
        if line.startswith(f'sse_reconnects_total{{kind="{kind}"}}')
    }


async def test_only_resumed_and_repeated_streams_count_as_reconnects() -> None:
    async with serving(server_settings(), flag_gate=SwitchableGate(outside={"outsider"})) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(5):
                assert (await client.get(f"{served.url}/v1/stream", headers=served.auth("outsider"))).status_code == 204
            async with open_stream(client, served.url, served.auth("u")) as first:
                connected = await first.next()
            while served.services.hub.connection_count:  # the server noticed the client leave
                await asyncio.sleep(0.01)
            async with open_stream(client, served.url, served.auth("u")) as repeat:
                await repeat.next()
            async with open_stream(client, served.url, {**served.auth("v"), "Last-Event-ID": connected.id}) as resumed:
                await resumed.next()
            text = (await client.get(f"{served.url}/metrics")).text
    assert reconnects(text) == {"resumed": 1.0, "repeat": 1.0}


def test_a_repeat_is_within_the_window_and_a_first_stream_is_none() -> None:
    now = [0.0]
    counter = ReconnectCounter(window=60, remembered=2, clock=lambda: now[0])
    assert counter.kind("a", resumed=False) is None
    counter.stream_ended("a")
    now[0] = 30
    assert counter.kind("a", resumed=False) == "repeat"
    counter.stream_ended("a")
    now[0] = 100
    assert counter.kind("a", resumed=False) is None, "past the window"
    assert counter.kind("b", resumed=True) == "resumed"
    for user in ("c", "d", "e"):
        counter.stream_ended(user)
    assert counter.kind("c", resumed=False) is None, "only the most recent users are remembered"
