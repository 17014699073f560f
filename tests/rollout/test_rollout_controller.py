"""The state machine, driven by scripted metric windows and an injected clock."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from observability.rollout_metrics import PrometheusRolloutMetrics
from rollout.controller import RolloutController
from rollout.store import FileStateStore
from rollout.types import LockHeld, Phase, RolloutError, Verdict
from tests.rollout.rollout_support import MemoryFlagAdmin, ScriptedSource, healthy

MINUTE = 60.0


async def run_checks(controller, clock, count: int):
    """Let ``count`` analysis intervals pass, ticking once after each."""
    state = None
    for _ in range(count):
        clock.advance(MINUTE)
        state = await controller.tick()
    return state


async def test_start_applies_the_first_step(controller, admin):
    state = await controller.start(actor="alice")
    assert state.phase is Phase.PROGRESSING
    assert (admin.enabled, admin.percentage, admin.allowlist) == (True, 0, ("alice", "bob"))


async def test_advances_only_after_the_bake_time_with_every_gate_passing(controller, admin, clock):
    await controller.start(actor="alice")
    state = await run_checks(controller, clock, 9)
    assert state.step == 0, "must not advance before the 10 minute bake"
    state = await run_checks(controller, clock, 1)
    assert (state.phase, controller.plan.steps[state.step].name) == (Phase.PROGRESSING, "five")
    assert admin.percentage == 5 and admin.allowlist == ("alice", "bob"), "a step without allowlist keeps the previous one"


async def test_no_data_holds_and_never_advances(controller, source, clock, admin):
    source.then(None)  # no baseline yet
    source.always(healthy(delivered=99))  # then below min_traffic
    await controller.start(actor="alice")
    state = await run_checks(controller, clock, 30)
    assert state.step == 0 and state.phase is Phase.PROGRESSING
    assert all(r.verdict is Verdict.NO_DATA for r in state.last_check)
    assert "too little traffic" in state.message
    assert state.consecutive_failures == 0 and admin.percentage == 0


async def test_rolls_back_to_the_previous_step_after_failure_limit(controller, source, clock, admin, store):
    await controller.start(actor="alice")
    await run_checks(controller, clock, 10)  # now at "five"
    source.always(healthy(latency_p99=0.9))
    state = await run_checks(controller, clock, 2)
    assert state.phase is Phase.PROGRESSING and state.consecutive_failures == 2
    state = await run_checks(controller, clock, 1)
    assert state.phase is Phase.ROLLED_BACK
    assert controller.plan.steps[state.step].name == "internal"
    assert admin.enabled and admin.percentage == 0 and admin.allowlist == ("alice", "bob")
    rollback = (await store.transitions())[-1]
    assert rollback.actor == "controller" and rollback.action == "rollback"
    assert "delivery_p99_seconds = 0.9 (want <= 0.25)" in rollback.reason
    assert [g.verdict for g in rollback.gates if g.gate == "delivery_p99_seconds"] == [Verdict.FAIL]


async def test_rollback_off_disables_the_flag(plan, store, admin, clock):
    from dataclasses import replace

    from rollout.types import RollbackMode

    source = ScriptedSource(healthy(errors=500))
    controller = RolloutController(replace(plan, rollback=RollbackMode.OFF), store, admin, source, clock=clock)
    await controller.start(actor="alice")
    state = await run_checks(controller, clock, 3)
    assert state.phase is Phase.ROLLED_BACK and state.step == -1
    assert admin.enabled is False


async def test_a_passing_check_resets_the_failure_count(controller, source, clock):
    await controller.start(actor="alice")
    bad = healthy(rejected_by_health=30)
    source.then(bad, bad, healthy(), bad, bad, healthy())
    state = await run_checks(controller, clock, 6)
    assert state.phase is Phase.PROGRESSING and state.consecutive_failures == 0


async def test_pause_stops_promotion_but_not_rollback(controller, source, clock):
    await controller.start(actor="alice")
    await controller.pause(actor="alice", reason="investigating a ticket")
    state = await run_checks(controller, clock, 20)
    assert state.phase is Phase.PAUSED and state.step == 0
    state = await controller.resume(actor="alice")
    state = await run_checks(controller, clock, 1)
    assert controller.plan.steps[state.step].name == "five", "the bake time counted while paused"
    source.always(healthy(overflow_disconnects=30))
    await controller.pause(actor="alice")
    state = await run_checks(controller, clock, 3)
    assert state.phase is Phase.ROLLED_BACK


async def test_a_step_needing_approval_waits_for_a_human(controller, clock, admin, store):
    await controller.start(actor="alice")
    await run_checks(controller, clock, 10)  # → five
    state = await run_checks(controller, clock, 10)  # five baked; "half" needs approval
    assert state.phase is Phase.AWAITING_APPROVAL and admin.percentage == 5
    state = await run_checks(controller, clock, 5)
    assert state.phase is Phase.AWAITING_APPROVAL and admin.percentage == 5
    state = await controller.approve(actor="bob")
    assert state.phase is Phase.PROGRESSING and admin.percentage == 50
    state = await run_checks(controller, clock, 20)
    assert state.phase is Phase.COMPLETED and admin.percentage == 100
    actions = [(t.actor, t.action) for t in await store.transitions()]
    assert actions == [
        ("alice", "start"),
        ("controller", "advance"),
        ("controller", "await_approval"),
        ("bob", "approve"),
        ("controller", "advance"),
        ("controller", "complete"),
    ]


async def test_manual_advance_is_refused_while_a_gate_fails_unless_forced(controller, source, clock, admin):
    await controller.start(actor="alice")
    source.then(healthy(errors=100))
    await run_checks(controller, clock, 1)
    with pytest.raises(RolloutError, match="refusing to advance: error_ratio failing; use --force"):
        await controller.advance(actor="alice")
    state = await controller.advance(actor="alice", force=True)
    assert controller.plan.steps[state.step].name == "five" and admin.percentage == 5


async def test_commands_in_the_wrong_phase_say_why(controller):
    with pytest.raises(RolloutError, match="cannot approve: the rollout is pending"):
        await controller.approve(actor="alice")
    await controller.start(actor="alice")
    with pytest.raises(RolloutError, match="cannot start: the rollout is progressing"):
        await controller.start(actor="alice")


async def test_a_restarted_controller_continues_where_the_last_one_stopped(plan, tmp_path, admin, clock):
    store_path = tmp_path / "state.json"
    first = RolloutController(plan, FileStateStore(store_path), admin, ScriptedSource(healthy()), clock=clock)
    await first.start(actor="alice")
    await run_checks(first, clock, 10)
    await run_checks(first, clock, 4)  # 4 minutes into "five"
    second = RolloutController(plan, FileStateStore(store_path), admin, ScriptedSource(healthy()), clock=clock)
    state = await second.state()
    assert plan.steps[state.step].name == "five" and state.phase is Phase.PROGRESSING
    state = await run_checks(second, clock, 5)
    assert plan.steps[state.step].name == "five", "the bake is not restarted, nor cut short"
    state = await run_checks(second, clock, 1)
    assert plan.steps[state.step].name == "half" or state.phase is Phase.AWAITING_APPROVAL


async def test_a_second_controller_cannot_act_while_the_first_runs(controller, source, plan, store, admin, clock):
    await controller.start(actor="alice")
    stop = asyncio.Event()
    first = asyncio.create_task(controller.run(stop))
    deadline = asyncio.get_running_loop().time() + 10
    while source.started == 0:  # the first holds the lease once it has started its source
        assert asyncio.get_running_loop().time() < deadline, "the first controller never started"
        await asyncio.sleep(0.01)
    other_source = ScriptedSource(healthy())
    other = RolloutController(plan, FileStateStore(store.path), admin, other_source, clock=clock)
    try:
        with pytest.raises(LockHeld, match="another rollout controller holds"):
            await other.run(asyncio.Event())
        assert other_source.started == 0
    finally:
        stop.set()
        await asyncio.wait_for(first, 10)
    # Once the first has stopped, the lease is free again.
    stop_other = asyncio.Event()
    stop_other.set()
    await asyncio.wait_for(other.run(stop_other), 10)
    assert other_source.started == 1


async def test_a_broken_flag_backend_is_one_clear_error_and_changes_nothing(controller, admin, store):
    admin.broken = True
    with pytest.raises(RolloutError, match="flag admin could not set the allowlist: flag backend unreachable"):
        await controller.start(actor="alice")
    assert (await controller.state()).phase is Phase.PENDING
    assert await store.transitions() == []


async def test_phase_percentage_transitions_and_gate_values_are_exported(plan, store, admin, clock):
    registry = CollectorRegistry()
    source = ScriptedSource(healthy(latency_p99=0.042))
    controller = RolloutController(plan, store, admin, source, clock=clock, metrics=PrometheusRolloutMetrics(registry))
    await controller.start(actor="alice")
    await run_checks(controller, clock, 10)
    labels = {"flag": "sse-delivery"}
    assert registry.get_sample_value("rollout_phase", labels) == 1
    assert registry.get_sample_value("rollout_percentage", labels) == 5
    assert registry.get_sample_value("rollout_transitions_total", {**labels, "action": "advance"}) == 1
    gate = {**labels, "gate": "delivery_p99_seconds"}
    assert registry.get_sample_value("rollout_gate_value", gate) == pytest.approx(0.042)
    assert registry.get_sample_value("rollout_gate_passing", gate) == 1


async def test_transitions_reach_the_listener(plan, store, clock):
    seen = []
    controller = RolloutController(
        plan, store, MemoryFlagAdmin(), ScriptedSource(healthy()), clock=clock, on_transition=seen.append
    )
    await controller.start(actor="alice")
    await controller.rollback(actor="alice", reason="customer complaint")
    assert [(t.action, t.reason) for t in seen] == [("start", "started at step internal"), ("rollback", "customer complaint")]


async def test_a_window_measured_while_a_human_acted_is_not_judged(controller, source, clock, store):
    await controller.start(actor="alice")

    class PausingSource(ScriptedSource):
        async def sample(self, window_seconds, queries):  # type: ignore[no-untyped-def]
            await controller.pause(actor="bob", reason="saw something")  # lands between measuring and judging
            return healthy(errors=1000)

    controller._source = PausingSource(None)
    clock.advance(MINUTE)
    state = await controller.tick()
    assert state.phase is Phase.PAUSED and state.consecutive_failures == 0
    assert await store.checks() == []
