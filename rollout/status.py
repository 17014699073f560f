"""What `rollout status` shows: where the rollout is, what the gates read, and what happens next."""

from __future__ import annotations

from typing import Any

from .types import ControllerState, Phase, Plan, Verdict


def next_action(plan: Plan, state: ControllerState, now: float) -> tuple[str, float | None]:
    """The next thing that will happen and when (None: when a human acts, or never)."""
    if state.phase is Phase.PENDING:
        return "nothing until someone runs `flagstream rollout start`", None
    if state.phase is Phase.COMPLETED:
        guard_ends = state.phase_since + plan.guard_window
        if now < guard_ends and state.step > 0:
            previous = plan.steps[state.step - 1]
            return (
                f"check gates until the guard window ends; on failure roll back to {previous.name} ({previous.percentage}%)",
                state.next_check_at,
            )
        return "nothing: the rollout is complete", None
    if state.phase is Phase.ROLLED_BACK:
        return "nothing until someone runs `flagstream rollout start` again", None
    step = plan.steps[state.step]
    check_at = state.next_check_at
    left = plan.failure_limit - state.consecutive_failures
    if state.consecutive_failures:
        return f"roll back if the next {left} check(s) fail too", check_at
    if state.phase is Phase.PAUSED:
        return "check gates (rollback still armed); promotion waits for `flagstream rollout resume`", check_at
    if state.phase is Phase.AWAITING_APPROVAL:
        target = plan.steps[state.step + 1]
        return f"enter {target.name} ({target.percentage}%) once someone runs `flagstream rollout approve`", None
    bake_done = step.bake_started(state.step_since) + step.bake_time
    last = state.step + 1 >= len(plan.steps)
    move = "complete the rollout" if last else f"advance to {plan.steps[state.step + 1].name}"
    if now < bake_done:
        return f"{move} after the bake time, if every gate passes", bake_done
    if any(r.verdict is Verdict.NO_DATA for r in state.last_check):
        return f"{move} once there is enough traffic to judge (holding)", check_at
    return f"{move} at the next passing check", check_at


def status_view(plan: Plan, state: ControllerState, now: float) -> dict[str, Any]:
    action, action_at = next_action(plan, state, now)
    step = plan.steps[state.step] if state.step >= 0 else None
    return {
        "flag": plan.flag,
        "phase": state.phase.value,
        "step": step.name if step else None,
        "step_number": state.step + 1,
        "steps": len(plan.steps),
        "percentage": step.percentage if step else 0,
        "allowlist": list(step.allowlist) if step else [],
        "phase_since": state.phase_since or None,
        "seconds_in_phase": now - state.phase_since if state.phase_since else None,
        "seconds_in_step": now - state.step_since if step else None,
        "bake_time": step.bake_time if step else None,
        "consecutive_failures": state.consecutive_failures,
        "failure_limit": plan.failure_limit,
        "last_check_at": state.last_check_at,
        "gates": [reading.to_json() for reading in state.last_check],
        "next_action": action,
        "next_action_at": action_at,
        "message": state.message,
    }
