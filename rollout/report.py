"""Phase 4, optimise: what each step looked like, and which settings the numbers argue for.

Built only from recorded checks (one WindowSample per analysis interval), so a report
can be made at any time after the fact, from the state file or Redis.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from .gates import capacity_checked
from .types import CheckResult, Plan

# Evidence thresholds: below these the numbers do not argue for a change.
OVERFLOW_PER_MINUTE = 0.1
USER_LIMIT_REJECTION_SHARE = 0.01
RECONNECTS_PER_CONNECTION_HOUR = 2.0
QUIET_RECONNECTS_PER_CONNECTION_HOUR = 0.2
SLOW_P50_SECONDS = 0.010
FAST_P99_SECONDS = 0.025


@dataclass(frozen=True)
class StepSummary:
    step: str
    percentage: int
    checks: int
    minutes: float
    delivered: float
    latency_p50: float | None  # median of the per-window percentiles
    latency_p90: float | None
    latency_p99: float | None
    worst_p99: float | None
    error_ratio: float
    connections_per_user: float | None
    peak_connections: float
    overflow_disconnects: float
    overflow_per_minute: float
    user_limit_rejections: float
    connection_attempts: float
    capacity_checked: float  # stream requests that reached the limits (204s and 401s left out)
    reconnects: float | None  # sse_reconnects_total over the step (None: not measured)
    reconnects_per_connection_hour: float | None
    mean_connections: float
    first_check: float  # when the step's recorded windows start and end (checkable)
    last_check: float


@dataclass(frozen=True)
class Suggestion:
    setting: str
    change: str
    evidence: str


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(plan: Plan, checks: list[CheckResult]) -> list[StepSummary]:
    summaries = []
    for index, step in enumerate(plan.steps):
        samples = [c.sample for c in checks if c.step == index and c.sample is not None]
        if not samples:
            continue
        seconds = sum(s.window_seconds for s in samples)
        work = sum(s.published + s.connection_attempts for s in samples)
        connections = [s.connections for s in samples]
        per_user = [s.connections / s.users for s in samples if s.users > 0]
        overflow = sum(s.overflow_disconnects for s in samples)
        attempts = sum(s.connection_attempts for s in samples)
        mean_connections = statistics.mean(connections)
        # Only resumes and quick repeats are reconnects; a 204 is a user outside the rollout.
        measured = [s.reconnects for s in samples if s.reconnects is not None]
        reconnects = sum(measured) if measured else None
        times = [c.time for c in checks if c.step == index and c.sample is not None]
        summaries.append(
            StepSummary(
                step=step.name,
                percentage=step.percentage,
                checks=len(samples),
                minutes=seconds / 60.0,
                delivered=sum(s.delivered for s in samples),
                latency_p50=_median([s.latency_p50 for s in samples]),
                latency_p90=_median([s.latency_p90 for s in samples]),
                latency_p99=_median([s.latency_p99 for s in samples]),
                worst_p99=max((s.latency_p99 for s in samples if s.latency_p99 is not None), default=None),
                error_ratio=sum(s.errors for s in samples) / work if work else 0.0,
                connections_per_user=statistics.mean(per_user) if per_user else None,
                peak_connections=max(connections),
                overflow_disconnects=overflow,
                overflow_per_minute=overflow * 60.0 / seconds if seconds else 0.0,
                user_limit_rejections=sum(s.rejected_user_limit for s in samples),
                connection_attempts=attempts,
                capacity_checked=sum(capacity_checked(s) for s in samples),
                reconnects=reconnects,
                reconnects_per_connection_hour=(
                    reconnects / mean_connections * 3600.0 / seconds
                    if reconnects is not None and mean_connections and seconds
                    else None
                ),
                mean_connections=mean_connections,
                first_check=min(times) - samples[0].window_seconds,
                last_check=max(times),
            )
        )
    return summaries


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def widest(summaries: list[StepSummary]) -> StepSummary:
    """The step whose numbers the suggestions come from: the most users, the most truth."""
    return max(summaries, key=lambda summary: (summary.percentage, summary.checks))


def suggest(summaries: list[StepSummary]) -> list[Suggestion]:
    """Setting changes argued by the widest step that has data (see :func:`widest`)."""
    if not summaries:
        return []
    s = widest(summaries)
    where = (
        f"at step {s.step} ({s.percentage}%, {s.checks} checks over {s.minutes:.0f} min, "
        f"{_utc(s.first_check)} to {_utc(s.last_check)})"
    )
    out: list[Suggestion] = []
    if s.overflow_per_minute > OVERFLOW_PER_MINUTE:
        out.append(
            Suggestion(
                "QUEUE_SIZE",
                "raise it (e.g. double), so bursts fit in a slow client's queue",
                f"{s.overflow_disconnects:g} slow-consumer disconnects "
                f'(sse_connections_closed_total{{reason="overflow"}}), {s.overflow_per_minute:.2f}/min {where}',
            )
        )
        if s.latency_p99 is not None and s.latency_p99 < FAST_P99_SECONDS:
            out.append(
                Suggestion(
                    "BATCH_WINDOW_MS",
                    "raise it a little, so queued events leave in fewer, larger writes",
                    f"p99 of sse_delivery_latency_seconds is only {_ms(s.latency_p99)} while queues overflow {where}",
                )
            )
    elif s.latency_p50 is not None and s.latency_p50 > SLOW_P50_SECONDS:
        out.append(
            Suggestion(
                "BATCH_WINDOW_MS",
                "lower it: with no overflow, the batch wait is most of the latency",
                f"median p50 of sse_delivery_latency_seconds {_ms(s.latency_p50)}, no slow-consumer disconnects {where}",
            )
        )
    if s.capacity_checked and s.user_limit_rejections / s.capacity_checked > USER_LIMIT_REJECTION_SHARE:
        out.append(
            Suggestion(
                "MAX_CONNECTIONS_PER_USER",
                "raise it, or set USER_LIMIT_POLICY=evict_oldest",
                f"{s.user_limit_rejections:g} of {s.capacity_checked:g} stream requests that reached the limits "
                "refused for user_limit "
                f'(sse_connections_rejected_total{{reason="user_limit"}}) '
                f"(connections per user {s.connections_per_user or 0:.2f}) {where}",
            )
        )
    reconnects = s.reconnects_per_connection_hour
    if reconnects is not None and reconnects > RECONNECTS_PER_CONNECTION_HOUR:
        out.append(
            Suggestion(
                "PING_INTERVAL",
                "lower it below the idle timeout of any proxy in front of the service",
                f"{s.reconnects:g} reconnects (sse_reconnects_total: resumed with Last-Event-ID or a user's repeat) "
                f"over {s.mean_connections:.0f} open streams on average = {reconnects:.1f} per stream per hour {where}; "
                "idle cuts look like this",
            )
        )
    elif reconnects is not None and reconnects < QUIET_RECONNECTS_PER_CONNECTION_HOUR and s.overflow_disconnects == 0:
        out.append(
            Suggestion(
                "PING_INTERVAL",
                "can be raised to save writes: streams are long-lived",
                f"only {s.reconnects:g} reconnects (sse_reconnects_total) over {s.mean_connections:.0f} open streams "
                f"on average = {reconnects:.2f} per stream per hour {where}",
            )
        )
    return out
