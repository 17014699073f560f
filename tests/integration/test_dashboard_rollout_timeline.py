"""The rollout timeline on /dashboard, in real Chromium, against what the rollout records say.

The real controller writes a rollout that advanced, held on no data, waited for a human's
approval and rolled back into a state file; a real server (not running the controller) reads
it in the background and feeds the page. The test then acts as a release manager (a manual
start by carol) and the page must show it live, over the same feed. Pixels are read where the
data says a check, the audience line or an action must be drawn.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rollout.controller import RolloutController
from rollout.plan import parse_plan
from rollout.store import FileStateStore
from tests.integration.browser_pixels import hex_colour, near, node_with_playwright, take_picture
from tests.rollout.rollout_story import STORY_PLAN, Story, play_story
from tests.rollout.rollout_support import FakeClock, MemoryFlagAdmin, ScriptedSource, healthy
from tests.support.inprocess import ADMIN, server_settings, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["node_with_playwright"]

TIMELINE = "#rollout-timeline"
VERDICT_COLOURS = {"pass": "#15803d", "fail": "#c81e1e", "no_data": "#8b93a5", "hold": "#b45309"}
LINE = hex_colour("#2f6fdf")
ROLLBACK = hex_colour("#c81e1e")
MANUAL = hex_colour("#7c3aed")


def rows_near(column: list, colour: tuple[int, int, int], tolerance: int = 45) -> list[int]:
    return [row for row, pixel in enumerate(column) if near(pixel, colour, tolerance)]


def audience_samples(story: Story) -> list[tuple[float, int]]:
    """(time, percentage) in the middle of each stretch at one audience."""
    return [
        ((story.started + story.advanced_to_five) / 2, 0),  # internal: allowlist only
        ((story.advanced_to_five + story.awaiting_approval) / 2, 5),
        ((story.approved + story.rolled_back) / 2, 50),
    ]


async def test_the_timeline_draws_steps_checks_and_actions_where_the_records_say(
    node_with_playwright: str, tmp_path: Path, gate
) -> None:
    state, plan_file = tmp_path / "rollout-state.json", tmp_path / "rollout.toml"
    plan_file.write_text(STORY_PLAN)
    store = FileStateStore(state)
    story = await play_story(store)
    checks = (
        [(t, "pass") for t in story.passed]
        + [(t, "no_data") for t in story.no_data]
        + [(t, "hold") for t in story.held]
        + [(t, "fail") for t in story.failed]
    )
    audience = audience_samples(story)
    actions = [(story.started, MANUAL), (story.approved, MANUAL), (story.rolled_back, ROLLBACK)]

    async def carol_starts_again() -> None:
        controller = RolloutController(
            parse_plan(STORY_PLAN), store, MemoryFlagAdmin(), ScriptedSource(healthy()), clock=FakeClock(time.time())
        )
        await controller.start("carol", "five")

    settings = server_settings(rollout_state=str(state), rollout_plan=str(plan_file), rollout_status_interval=0.2)
    async with serving(settings, flag_gate=gate) as served:
        picture = await take_picture(
            node_with_playwright,
            url=f"{served.url}/dashboard?access_token={ADMIN}",
            ready="document.querySelector('[data-value=\"rollout_events\"] li.rollback') !== null",
            when_ready=carol_starts_again,
            wait_for="document.querySelector('#rollout-timeline').textContent.includes('start · carol')",
            timed_probes=[
                (TIMELINE, [t for t, _ in checks]),
                (TIMELINE, [t for t, _ in audience]),
            ],
            spread_probes=[(TIMELINE, [t for t, _ in actions])],
            datasets=[TIMELINE],
            texts=[
                '[data-value="rollout_phase"]',
                '[data-value="rollout_events"]',
                '[data-value="rollout_step"]',
                '[data-value="rollout_message"]',
                '[data-value="rollout_gates"]',
            ],
            screenshot="dashboard-rollout-timeline.png",
        )
    await store.close()
    assert picture.page_errors == [] and picture.failed_requests == []
    scale = picture.datasets[TIMELINE]
    assert scale is not None
    lane, top, bottom = int(scale["lane"]), int(scale["top"]), int(scale["bottom"])
    on_checks, on_audience, on_actions = picture.probes

    for i, (t, verdict) in enumerate(checks):
        pixel = on_checks.column(i)[lane]
        assert near(pixel, hex_colour(VERDICT_COLOURS[verdict]), 45), f"check at {t} ({verdict}) drawn as {pixel}"

    for i, (t, percentage) in enumerate(audience):
        want = bottom - percentage / 100 * (bottom - top)
        blue = [row for row in rows_near(on_audience.column(i), LINE, 60) if top - 8 <= row <= bottom + 4]
        assert blue, f"no audience line at {t}"
        assert all(abs(row - want) <= 3 for row in blue), f"audience at {t} should be {percentage} % (y {want}), drawn at {blue}"

    for i, (t, colour) in enumerate(actions):
        marked = {row for column in on_actions.around(i) for row in rows_near(column, colour) if top <= row <= bottom}
        assert len(marked) >= 20, f"no action line at {t}"

    # Before carol acted, the panel said where the rollout was and what made it roll back.
    before = picture.ready_texts
    assert before is not None and before['[data-value="rollout_phase"]'] == "rolled back"
    assert before['[data-value="rollout_message"]'].startswith("3 consecutive failed checks: delivery_p99_seconds = 0.4")
    assert "error_ratio0.0741<=0.01fail" in before['[data-value="rollout_gates"]'].replace(" ", "")

    events = picture.texts['[data-value="rollout_events"]'] or ""
    assert "carol start → five" in events and "bob approve → half (50 %)" in events
    assert "controller rollback → five (5 %) — 3 consecutive failed checks" in events
    assert picture.texts['[data-value="rollout_phase"]'] == "progressing"
    assert picture.texts['[data-value="rollout_step"]'] == "five (2 of 4)"
