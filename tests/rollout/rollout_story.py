"""A rollout that advanced, held on no data, waited for approval and rolled back, written by the
real controller into a real state store: the fixture of the timeline and the HTML report.

Times are real (the story ends about now) so a live page draws it where a person would look.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rollout.controller import RolloutController
from rollout.plan import parse_plan
from rollout.store import StateStore
from rollout.types import Plan
from tests.rollout.conftest import PLAN
from tests.rollout.rollout_support import FakeClock, MemoryFlagAdmin, ScriptedSource, healthy

STORY_PLAN = PLAN  # internal (allowlist) → five → half (needs approval) → all; failure_limit 3

QUIET = healthy(delivered=20, latency_count=20, published=10, connection_attempts=2)
BROKEN = healthy(errors=40, latency_p99=0.4, overflow_disconnects=12)


@dataclass
class Story:
    """When each thing happened (clock seconds), for tests to compare pictures with."""

    plan: Plan
    started: float = 0.0
    advanced_to_five: float = 0.0
    no_data: list[float] = field(default_factory=list)
    awaiting_approval: float = 0.0
    held: list[float] = field(default_factory=list)
    approved: float = 0.0
    failed: list[float] = field(default_factory=list)
    rolled_back: float = 0.0
    passed: list[float] = field(default_factory=list)


async def _checks(controller: RolloutController, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        clock.advance(60)
        await controller.tick()
        times.append(clock.now())
    return times


async def play_story(store: StateStore, *, ends_at: float | None = None) -> Story:
    """Drive the real controller through the story; it ends at ``ends_at`` (default: now)."""
    plan = parse_plan(STORY_PLAN)
    clock = FakeClock((ends_at or time.time()) - 29 * 60)
    source = ScriptedSource(healthy())
    controller = RolloutController(plan, store, MemoryFlagAdmin(), source, clock=clock)
    story = Story(plan)

    await controller.start("alice")
    story.started = clock.now()
    story.passed += await _checks(controller, clock, 10)  # baked: advance to five
    story.advanced_to_five = clock.now()
    source.then(*[QUIET] * 4)
    story.no_data = await _checks(controller, clock, 4)  # too little traffic: hold
    story.passed += await _checks(controller, clock, 6)  # baked again: half needs approval
    story.awaiting_approval = clock.now()
    story.held = await _checks(controller, clock, 3)  # passing, but a human holds it
    clock.advance(30)
    await controller.approve("bob")
    story.approved = clock.now()
    story.passed += await _checks(controller, clock, 2)
    source.always(BROKEN)
    story.failed = await _checks(controller, clock, 3)  # three failures: roll back
    story.rolled_back = story.failed[-1]
    return story
