"""What the dashboard shows of a rollout, computed from a :class:`RolloutSnapshot`.

``status_document``: where the rollout is (phase, step, percentage, time at the step against
its bake time, the last check's gates, what happens next). Without the plan file it still
tells the phase, the step and the percentage, from the state and the audit log.

``timeline_document``: the rollout over time for the timeline chart — the percentage as a
step line (one point per transition), every recorded check with its verdict, and every
transition as an event with who and why.

A check's verdict on the timeline is the controller's (``pass``, ``fail``, ``no_data``), except
that a passing check taken while a human held promotion (paused, or waiting for approval)
reads ``hold``: it passed, and the rollout still did not move.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from .observer import RolloutSnapshot
from .status import status_view
from .types import CheckResult, ControllerState, Phase, Transition, Verdict

STATUS_KEYS = (
    "phase",
    "step",
    "step_number",
    "steps",
    "percentage",
    "seconds_in_phase",
    "seconds_in_step",
    "bake_time",
    "consecutive_failures",
    "failure_limit",
    "last_check_at",
    "gates",
    "next_action",
    "next_action_at",
    "message",
)
HELD_PHASES = frozenset({Phase.PAUSED.value, Phase.AWAITING_APPROVAL.value})
CONTROLLER = "controller"


def status_document(snapshot: RolloutSnapshot, now: float) -> dict[str, Any] | None:
    """None when there is nothing to show: no plan file and no rollout state."""
    plan, state = snapshot.plan, snapshot.state
    if plan is not None and (state is None or state.step < len(plan.steps)):
        view = status_view(plan, state or ControllerState(flag=plan.flag), now)
        return {key: view[key] for key in STATUS_KEYS} | {"plan": True}
    if state is None:
        return None
    return _without_plan(state, snapshot.transitions, now)


def _without_plan(state: ControllerState, transitions: tuple[Transition, ...], now: float) -> dict[str, Any]:
    last = transitions[-1] if transitions else None
    at_step = state.step >= 0
    return {
        "phase": state.phase.value,
        "step": last.to_step if last else None,
        "step_number": state.step + 1,
        "steps": None,
        "percentage": last.percentage if last else None,
        "seconds_in_phase": now - state.phase_since if state.phase_since else None,
        "seconds_in_step": now - state.step_since if at_step and state.step_since else None,
        "bake_time": None,
        "consecutive_failures": state.consecutive_failures,
        "failure_limit": None,
        "last_check_at": state.last_check_at,
        "gates": [reading.to_json() for reading in state.last_check],
        "next_action": None,
        "next_action_at": state.next_check_at,
        "message": state.message,
        "plan": False,
    }


def timeline_document(snapshot: RolloutSnapshot) -> dict[str, Any]:
    transitions = sorted(snapshot.transitions, key=lambda t: t.time)
    steps = snapshot.plan.steps if snapshot.plan is not None else ()
    return {
        "flag": snapshot.flag,
        "read_at": snapshot.read_at,
        "phase": snapshot.state.phase.value if snapshot.state is not None else None,
        "plan_steps": [{"name": s.name, "percentage": s.percentage} for s in steps],
        "steps": [{"t": t.time, "percentage": t.percentage, "step": t.to_step, "phase": t.to_phase} for t in transitions],
        "checks": [_check(c, transitions) for c in sorted(snapshot.checks, key=lambda c: c.time)],
        "events": [_event(t) for t in transitions],
    }


def check_verdict(check: CheckResult, transitions: list[Transition]) -> str:
    """The check's verdict, or ``hold`` for a pass while promotion was held by a human."""
    verdict = check.verdict
    if verdict is Verdict.PASS and _phase_at(check.time, transitions) in HELD_PHASES:
        return "hold"
    return verdict.value


def _phase_at(time: float, transitions: list[Transition]) -> str | None:
    index = bisect_left([t.time for t in transitions], time)  # a check at a transition caused it: before it
    return transitions[index - 1].to_phase if index else None


def _check(check: CheckResult, transitions: list[Transition]) -> dict[str, Any]:
    verdict = check_verdict(check, transitions)
    return {
        "t": check.time,
        "step": check.step,
        "verdict": verdict,
        "delivered": check.sample.delivered if check.sample is not None else None,
        # Readings only where they explain something: a pass is "every gate passing" (keeps the
        # document small: hundreds of checks travel to every open dashboard when one is added).
        "gates": [] if verdict == "pass" else [reading.to_json() for reading in check.readings],
    }


def event_kind(transition: Transition) -> str:
    if transition.action == "rollback":
        return "rollback"
    return "automatic" if transition.actor == CONTROLLER else "manual"


def _event(transition: Transition) -> dict[str, Any]:
    return {
        "t": transition.time,
        "kind": event_kind(transition),
        "action": transition.action,
        "actor": transition.actor,
        "reason": transition.reason,
        "from_phase": transition.from_phase,
        "to_phase": transition.to_phase,
        "to_step": transition.to_step,
        "percentage": transition.percentage,
    }
