"""What the controller decides beyond pass/fail: holds, deadlines, the capacity projection.

Pure functions of the plan, the state and the last window, so each can be read (and
tested) on its own; the controller applies what they return.
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import CheckResult, ControllerState, Phase, Plan, Verdict, WindowSample


@dataclass(frozen=True)
class Hold:
    """Why a rollout that could otherwise move stays where it is; ``kind`` dedupes the audit line."""

    kind: str  # no_data, inconclusive, capacity
    reason: str


def capacity_hold(plan: Plan, step: int, sample: WindowSample | None) -> Hold | None:
    """Hold when the next step's projected connections exceed the fleet's limit × headroom.

    Projection: today's connections per enabled (streaming) user × the users the next
    percentage enables (today's users × next% / current%). Nothing is projected from an
    allowlist-only step (0 %), nor without a connection limit in the metrics.
    """
    if plan.capacity_headroom is None or sample is None or step + 1 >= len(plan.steps):
        return None
    current, target = plan.steps[step], plan.steps[step + 1]
    if sample.users <= 0 or sample.connections_limit <= 0 or current.percentage <= 0:
        return None
    per_user = sample.connections / sample.users
    users_next = sample.users * target.percentage / current.percentage
    projected = per_user * users_next
    budget = sample.connections_limit * plan.capacity_headroom
    if projected <= budget:
        return None
    return Hold(
        "capacity",
        (
            f"capacity: {target.name} ({target.percentage}%) projects {projected:.0f} connections = "
            f"{per_user:.2f} connections per enabled user × {users_next:.0f} users "
            f"({sample.users:.0f} streaming at {current.percentage}% × {target.percentage}/{current.percentage}) "
            f"> {budget:.0f} = sse_connections_limit {sample.connections_limit:.0f} × headroom {plan.capacity_headroom:g}"
        ),
    )


def verdict_hold(result: CheckResult, message: str) -> Hold | None:
    if result.verdict is Verdict.NO_DATA:
        return Hold("no_data", message)
    if result.verdict is Verdict.INCONCLUSIVE:
        return Hold("inconclusive", message)
    return None


def missed_deadline(plan: Plan, state: ControllerState, now: float) -> str | None:
    """A deadline that passed while progressing: too many no-data checks, or too long at the step."""
    if state.phase is not Phase.PROGRESSING:
        return None
    if plan.no_data_limit and state.consecutive_no_data >= plan.no_data_limit:
        return f"no data for {state.consecutive_no_data} checks in a row (no_data_limit {plan.no_data_limit})"
    deadline = plan.steps[state.step].progress_deadline
    if deadline is not None and now - state.phase_since >= deadline:
        return (
            f"no progress at {plan.steps[state.step].name} for {now - state.phase_since:.0f}s (progress_deadline {deadline:g}s)"
        )
    return None


def in_guard_window(plan: Plan, state: ControllerState, now: float) -> bool:
    """After completion, gates are still checked (and still roll back) for ``guard_window``."""
    return state.phase is Phase.COMPLETED and now < state.phase_since + plan.guard_window
