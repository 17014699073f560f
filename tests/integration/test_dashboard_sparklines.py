"""The dashboard's sparklines draw only what the data has (issue 13.1), checked in real Chromium.

The page is the real /dashboard of a real server; only its feed is replaced by two stats
documents built with the real RollingStats: an instance whose sampler stalled for 40 s (its
gauges unknown, its counters truly zero), then a restarted instance 40 s later (nothing known
in between). The screenshot is read column by column where the data says there is a gap.
"""

from __future__ import annotations

import time

import httpx
import pytest

from observability.metrics import HubSnapshot
from observability.stats import RollingStats
from tests.integration.browser_pixels import is_ink, node_with_playwright, sse_body, take_picture
from tests.support.inprocess import ADMIN, server_settings, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["node_with_playwright"]

RUN = 40  # seconds of data in each run
STALL = 40  # seconds the first instance's sampler did not run
DOWN = 40  # seconds between the first instance's last second and the restart
GAUGES = ("connections", "users", "rss_bytes")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _run(stats: RollingStats, clock: Clock, open_streams: list[int]) -> None:
    for i in range(RUN):
        open_streams[0] = 1 + i  # a rising gauge: a closed-back area would leave its foot empty
        stats.sample()
        stats.events_delivered(5 + i, [0.002] * (5 + i))
        clock.now += 1


def _series_with_a_stall_and_a_restart(t0: int) -> tuple[dict, dict]:
    open_streams = [0]

    def hub() -> HubSnapshot:
        return HubSnapshot(connections=open_streams[0], users=(open_streams[0] + 1) // 2, users_by_connection_count={})

    clock = Clock(t0)
    first = RollingStats(clock)
    first.watch_hub(hub)
    _run(first, clock, open_streams)
    clock.now += STALL
    _run(first, clock, open_streams)
    before_restart = first.series()
    clock.now += DOWN
    second = RollingStats(clock)
    second.watch_hub(hub)
    _run(second, clock, open_streams)
    return before_restart, second.series()


def fraction(t: float, newest: int, span: int) -> float:
    """Where second ``t`` lands across a chart (the newest second at the right edge)."""
    return 1 - (newest - t) / span


async def test_a_gap_in_the_data_reads_as_a_gap_in_every_sparkline(node_with_playwright: str, gate) -> None:
    t0 = int(time.time()) - 600
    before, after = _series_with_a_stall_and_a_restart(t0)
    assert before["connections"][RUN : RUN + STALL] == [None] * STALL and before["delivered"][RUN : RUN + STALL] == [0] * STALL

    newest = after["t"][-1]
    span = newest - t0  # under five minutes: the chart spans the data
    stall = [fraction(t0 + RUN + s, newest, span) for s in (8, 20, 32)]
    down = [fraction(t0 + 2 * RUN + STALL + s, newest, span) for s in (8, 20, 32)]
    runs = [fraction(t0 + s, newest, span) for s in (10, 30, RUN + STALL + 20, 2 * RUN + STALL + DOWN + 20)]
    columns = stall + down + runs
    charts = (*GAUGES, "delivered")

    async with serving(server_settings(broker="memory"), flag_gate=gate) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            document = (await client.get(f"{served.url}/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN}"})).json()
        feed = sse_body({**document, "series": before}, {**document, "connections": 77, "series": after})
        picture = await take_picture(
            node_with_playwright,
            url=f"{served.url}/dashboard?access_token={ADMIN}",
            feed=feed,
            wait_for="document.querySelector('[data-value=\"connections\"]').textContent.trim() === '77'",
            probes=[(f'svg[data-chart="{name}"]', columns) for name in charts],
            screenshot="dashboard-sparkline-gaps.png",
        )
    assert picture.page_errors == [] and picture.failed_requests == []
    by_chart = dict(zip(charts, picture.probes))
    for name in charts:
        probe = by_chart[name]
        height = len(probe.column(0))
        near_zero = round(height * 55 / 60)  # rows at or below this are the zero line
        foot = round(height * 56 / 60)  # just above the baseline, under any area
        for i in range(len(down)):
            ink = [row for row, pixel in enumerate(probe.column(len(stall) + i)) if is_ink(pixel)]
            assert ink == [], f"{name}: drawn across the restart (no data) at rows {ink}"
        for i in range(len(stall)):
            ink = [row for row, pixel in enumerate(probe.column(i)) if is_ink(pixel)]
            if name in GAUGES:
                assert ink == [], f"{name}: drawn across the stall (unknown) at rows {ink}"
            else:
                assert ink and min(ink) >= near_zero, f"{name}: the stall had zero deliveries, drawn at rows {ink}"
        for i in range(len(runs)):
            column = probe.column(len(stall) + len(down) + i)
            assert is_ink(column[foot]), f"{name}: the area does not reach the baseline under run column {i}"
