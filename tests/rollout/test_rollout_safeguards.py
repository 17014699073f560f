"""Issue 11's safeguards on the state machine: abort_above, warn band, dry-run gates,
no_data_limit, progress_deadline, the guard window after completion, the capacity hold."""

from __future__ import annotations

import pytest

from rollout.controller import RolloutController
from rollout.plan import parse_plan
from rollout.types import Phase, PlanError, Verdict
from tests.rollout.rollout_support import ScriptedSource, healthy

MINUTE = 60.0

BASE = """
flag = "sse-delivery"
failure_limit = 3
min_traffic = 100
bake_time = "10m"
interval = "1m"
{top}

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "ten"
percentage = 10

[[steps]]
name = "fifty"
percentage = 50
{step}

[[gates]]
measure = "delivery_p99_seconds"
max = 0.25
{gate}
[[gates]]
measure = "error_ratio"
{second}
"""


def controller_for(store, admin, clock, source, *, top="", step="", gate="", second=""):
    plan = parse_plan(BASE.format(top=top, step=step, gate=gate, second=second))
    return RolloutController(plan, store, admin, source, clock=clock)


async def checks(controller, clock, count):
    state = None
    for _ in range(count):
        clock.advance(MINUTE)
        state = await controller.tick()
    return state


async def test_abort_above_rolls_back_on_the_first_reading_past_it(store, admin, clock):
    source = ScriptedSource(healthy())
    controller = controller_for(store, admin, clock, source, gate="abort_above = 1.0")
    await controller.start(actor="alice", step_name="ten")
    source.then(healthy(latency_p99=0.5))  # failing, not past abort: counts 1 of 3
    assert (await checks(controller, clock, 1)).phase is Phase.PROGRESSING
    source.then(healthy(latency_p99=1.5))
    state = await checks(controller, clock, 1)
    assert state.phase is Phase.ROLLED_BACK and state.step == 0
    [rollback] = [t for t in await store.transitions() if t.action == "rollback"]
    assert "abort_above" in rollback.reason and "delivery_p99_seconds = 1.5" in rollback.reason


async def test_readings_between_warn_and_max_hold_without_counting_a_failure(store, admin, clock):
    source = ScriptedSource(healthy(latency_p99=0.2))
    controller = controller_for(store, admin, clock, source, gate="warn = 0.1")
    await controller.start(actor="alice", step_name="ten")
    state = await checks(controller, clock, 20)
    assert (state.phase, state.step, state.consecutive_failures) == (Phase.PROGRESSING, 1, 0)
    assert {r.verdict for r in state.last_check if r.gate == "delivery_p99_seconds"} == {Verdict.INCONCLUSIVE}
    holds = [t for t in await store.transitions() if t.action == "hold"]
    assert len(holds) == 1 and "inconclusive" in holds[0].reason
    source.always(healthy(latency_p99=0.05))
    assert (await checks(controller, clock, 1)).step == 2


async def test_a_dry_run_gate_is_recorded_but_never_decides(store, admin, clock):
    source = ScriptedSource(healthy(errors=400))  # error_ratio far past its max
    controller = controller_for(store, admin, clock, source, second="dry_run = true")
    await controller.start(actor="alice", step_name="ten")
    state = await checks(controller, clock, 10)
    assert state.step == 2 and state.phase is Phase.PROGRESSING, "the dry-run gate neither failed nor held"
    [checked] = [c for c in await store.checks()][-1:]
    [reading] = [r for r in checked.readings if r.gate == "error_ratio"]
    assert reading.verdict is Verdict.FAIL and reading.dry_run


@pytest.mark.parametrize(("action", "phase"), [("pause", Phase.PAUSED), ("rollback", Phase.ROLLED_BACK)])
async def test_no_data_limit_ends_the_wait_as_the_plan_says(store, admin, clock, action, phase):
    source = ScriptedSource(healthy(delivered=3))
    controller = controller_for(store, admin, clock, source, top=f'no_data_limit = 4\non_deadline = "{action}"')
    await controller.start(actor="alice", step_name="ten")
    assert (await checks(controller, clock, 3)).phase is Phase.PROGRESSING
    state = await checks(controller, clock, 1)
    assert state.phase is phase
    last = (await store.transitions())[-1]
    assert last.actor == "controller" and "no data for 4 checks" in last.reason


async def test_a_step_past_its_progress_deadline_pauses(store, admin, clock):
    source = ScriptedSource(healthy(latency_p99=0.2))  # inconclusive forever: never advances
    controller = controller_for(store, admin, clock, source, gate="warn = 0.1", step='progress_deadline = "30m"')
    await controller.start(actor="alice", step_name="fifty")
    assert (await checks(controller, clock, 29)).phase is Phase.PROGRESSING
    state = await checks(controller, clock, 1)
    assert state.phase is Phase.PAUSED and "progress_deadline" in state.message


async def test_the_guard_window_after_completion_still_rolls_back_to_the_previous_step(store, admin, clock):
    source = ScriptedSource(healthy())
    controller = controller_for(store, admin, clock, source, top='guard_window = "30m"')
    await controller.start(actor="alice", step_name="fifty")
    state = await checks(controller, clock, 10)
    assert state.phase is Phase.COMPLETED and state.next_check_at is not None
    source.always(healthy(errors=400))
    state = await checks(controller, clock, 3)
    assert state.phase is Phase.ROLLED_BACK and state.step == 1 and admin.percentage == 10
    assert "guard window" in (await store.transitions())[-1].reason


async def test_after_the_guard_window_a_completed_rollout_is_left_alone(store, admin, clock):
    source = ScriptedSource(healthy())
    controller = controller_for(store, admin, clock, source, top='guard_window = "5m"')
    await controller.start(actor="alice", step_name="fifty")
    await checks(controller, clock, 10)
    await checks(controller, clock, 6)
    source.always(healthy(errors=400))
    state = await checks(controller, clock, 5)
    assert state.phase is Phase.COMPLETED and admin.percentage == 50


async def test_capacity_holds_with_the_arithmetic_in_the_reason(store, admin, clock):
    # 10 %: 1000 users streaming on 1200 connections; 50 % projects 6000 > 0.8 × 5000.
    source = ScriptedSource(healthy(connections=1200, users=1000, connections_limit=5000))
    controller = controller_for(store, admin, clock, source, top="capacity_headroom = 0.8")
    await controller.start(actor="alice", step_name="ten")
    state = await checks(controller, clock, 12)
    assert (state.phase, state.step) == (Phase.PROGRESSING, 1)
    [hold] = [t for t in await store.transitions() if t.action == "hold"]
    assert hold.reason == (
        "capacity: fifty (50%) projects 6000 connections = 1.20 connections per enabled user × 5000 users "
        "(1000 streaming at 10% × 50/10) > 4000 = sse_connections_limit 5000 × headroom 0.8"
    )
    source.always(healthy(connections=1200, users=1000, connections_limit=8000))  # the fleet grew
    assert (await checks(controller, clock, 1)).step == 2


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ("warn = 0.5", "gates[0].warn: must be below max 0.25"),
        ("abort_above = 0.1", "gates[0].abort_above: needs a max gate and must be at or above its max"),
        ('dry_run = "yes"', "gates[0].dry_run: must be true or false"),
    ],
)
def test_bad_safeguard_keys_are_one_line_naming_the_key(gate, message):
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_plan(BASE.format(top="", step="", gate=gate, second=""))


def test_bad_plan_level_safeguards_name_the_key():
    with pytest.raises(PlanError, match="capacity_headroom: must be a number in"):
        parse_plan(BASE.format(top="capacity_headroom = 2", step="", gate="", second=""))
    with pytest.raises(PlanError, match="on_deadline: must be"):
        parse_plan(BASE.format(top='on_deadline = "panic"', step="", gate="", second=""))


async def test_the_bake_clock_starts_after_the_admission_delay(store, admin, clock):
    """Users let in by a step arrive over a client retry: their time is not counted as bake."""
    source = ScriptedSource(healthy())
    controller = controller_for(store, admin, clock, source, top='admission_delay = "5m"')
    await controller.start(actor="alice", step_name="ten")
    assert (await checks(controller, clock, 14)).step == 1, "5 min admission + 10 min bake not yet over"
    state = await checks(controller, clock, 1)
    assert state.step == 2 and "baked 10m00s" in (await store.transitions())[-1].reason


async def test_status_of_a_completed_rollout_in_its_guard_window_names_the_rollback_target(store, admin, clock):
    from rollout.status import status_view

    controller = controller_for(store, admin, clock, ScriptedSource(healthy()), top='guard_window = "30m"')
    await controller.start(actor="alice", step_name="fifty")
    state = await checks(controller, clock, 10)
    view = status_view(controller.plan, state, clock.now())
    assert view["phase"] == "completed" and "roll back to ten (10%)" in view["next_action"]
