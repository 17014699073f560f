"""The HTML rollout report in real Chromium, read pixel by pixel against the recorded checks.

The real controller records a rollout that advanced, held on no data, waited for approval and
rolled back; `flagstream rollout report --html` draws it; the page is opened from disk (no
server: it must need nothing else) and each chart is read where the records say a point, a
gap, a threshold or a bar must be.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rollout.report_charts import MANUAL_COLOUR, THRESHOLD_COLOUR, VERDICT_COLOURS
from rollout.store import FileStateStore
from sse_service.cli import main as flagstream
from tests.integration.browser_pixels import hex_colour, is_ink, near, node_with_playwright, take_picture
from tests.rollout.rollout_story import BROKEN, STORY_PLAN, play_story

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["node_with_playwright"]

ERRORS = '#step-half svg[data-chart="gate-error_ratio"]'
P99_AT_FIVE = '#step-five svg[data-chart="gate-delivery_p99_seconds"]'
CUTS = '#step-half svg[data-chart="overflow"]'
OVERVIEW = 'svg[data-chart="overview"]'


def y_of(scale: dict[str, str], value: float) -> float:
    top, bottom = float(scale["top"]), float(scale["bottom"])
    vmin, vmax = float(scale["vmin"]), float(scale["vmax"])
    return bottom - (value - vmin) / (vmax - vmin) * (bottom - top)


async def test_the_report_draws_what_the_checks_recorded(node_with_playwright: str, tmp_path: Path) -> None:
    plan, state, html = tmp_path / "rollout.toml", tmp_path / "state.json", tmp_path / "report.html"
    plan.write_text(STORY_PLAN)
    store = FileStateStore(state)
    story = await play_story(store)
    checks = {c.time: c for c in await store.checks()}
    argv = ["rollout", "report", "--plan", str(plan), "--state", str(state), "--html", str(html)]
    assert await asyncio.to_thread(flagstream, argv) == 0  # the CLI runs its own event loop

    at_half = [t for t in sorted(checks) if t > story.approved]  # 2 passing, 3 failing
    five_passes = [t for t in story.passed if story.advanced_to_five < t <= story.awaiting_approval]
    between = (at_half[0] + at_half[1]) / 2
    cut_windows = [t - BROKEN.window_seconds / 2 for t in story.failed]
    picture = await take_picture(
        node_with_playwright,
        url=html.as_uri(),
        wait_for="document.readyState === 'complete'",
        timed_probes=[
            (ERRORS, [*at_half, between]),
            (P99_AT_FIVE, [*story.no_data, *five_passes[1:3]]),
            (CUTS, cut_windows),
            (OVERVIEW, [*story.no_data, *story.held]),
        ],
        spread_probes=[(OVERVIEW, [story.rolled_back, story.approved])],
        probes=[('#step-half [data-figure="overflow"]', []), ("#suggestion-QUEUE_SIZE", [])],
        datasets=[ERRORS, P99_AT_FIVE, CUTS, OVERVIEW],
        screenshot="rollout-report.png",
        viewport={"width": 1200, "height": 900},
    )
    assert picture.page_errors == [] and picture.failed_requests == []
    figure, aside, errors, p99, cuts, overview, actions = picture.probes  # plain probes come first

    # Error ratio at half: each check's point where its value is, in its verdict's colour; the threshold line between.
    scale = picture.datasets[ERRORS]
    for i, t in enumerate(at_half):
        reading = next(r for r in checks[t].readings if r.gate == "error_ratio")
        row = round(y_of(scale, reading.value))
        assert near(errors.column(i)[row], hex_colour(VERDICT_COLOURS[reading.verdict.value])), (
            t,
            reading,
            errors.column(i)[row],
        )
    assert near(errors.column(len(at_half))[round(y_of(scale, 0.01))], hex_colour(THRESHOLD_COLOUR))

    # p99 at five: the no-data checks are a gap (only the threshold crosses), with a grey mark on the lane.
    scale = picture.datasets[P99_AT_FIVE]
    top, bottom, lane = int(scale["top"]), int(scale["bottom"]), int(scale["lane"])
    threshold_row = y_of(scale, 0.25)
    for i, t in enumerate(story.no_data):
        column = p99.column(i)
        ink = [r for r in range(top, bottom + 1) if is_ink(column[r]) and abs(r - threshold_row) > 2]
        assert ink == [], f"drawn across the no-data check at {t}: rows {ink}"
        assert near(column[lane], hex_colour(VERDICT_COLOURS["no_data"]))
    for i, _ in enumerate(five_passes[1:3]):
        assert near(p99.column(len(story.no_data) + i)[round(y_of(scale, 0.02))], hex_colour(VERDICT_COLOURS["pass"]))

    # Slow-consumer cuts at half: a bar as high as each window's count, and nothing above it.
    scale = picture.datasets[CUTS]
    height = round(y_of(scale, BROKEN.overflow_disconnects))
    for i in range(len(cut_windows)):
        assert near(cuts.column(i)[height + 2], hex_colour(VERDICT_COLOURS["fail"]))
        assert not is_ink(cuts.column(i)[height - 3])

    # The overview: the rollback and bob's approval marked; no-data and held checks on the lane in their colours.
    scale = picture.datasets[OVERVIEW]
    top, bottom, lane = int(scale["top"]), int(scale["bottom"]), int(scale["lane"])
    for i, colour in enumerate((VERDICT_COLOURS["fail"], MANUAL_COLOUR)):
        marked = {row for column in actions.around(i) for row in range(top, bottom) if near(column[row], hex_colour(colour))}
        assert len(marked) >= 20, f"action {i} not marked"
    for i in range(len(story.no_data)):
        assert near(overview.column(i)[lane], hex_colour(VERDICT_COLOURS["no_data"]))
    for i in range(len(story.held)):
        assert near(overview.column(len(story.no_data) + i)[lane], hex_colour(VERDICT_COLOURS["hold"]))

    # The QUEUE_SIZE suggestion is drawn beside the chart of slow-consumer cuts it cites.
    assert aside.box["x"] >= figure.box["x"] + figure.box["width"] - 1
    assert abs(aside.box["y"] - figure.box["y"]) < 40
