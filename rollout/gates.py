"""The built-in gate measures and how a window of metrics becomes gate verdicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .types import CheckResult, Gate, GateReading, Plan, Verdict, WindowSample


@dataclass(frozen=True)
class Measure:
    name: str
    meaning: str
    default_max: float
    value: Callable[[WindowSample], float | None]
    samples: Callable[[WindowSample], float]


def _ratio(part: float, whole: float) -> float:
    # Nothing attempted means nothing went wrong; too little traffic is judged by min_traffic.
    return part / whole if whole > 0 else 0.0


def capacity_checked(sample: WindowSample) -> float:
    """Stream requests that got as far as the limits: opened, or refused by them."""
    opened = sample.streams_opened
    if opened is None:  # a check recorded before streams_opened was measured
        return sample.connection_attempts
    return opened + sample.rejected_by_health


MEASURES: dict[str, Measure] = {
    measure.name: measure
    for measure in (
        Measure(
            "delivery_p99_seconds",
            "99th percentile of publish-accepted → written-to-socket (sse_delivery_latency_seconds)",
            0.25,
            lambda s: s.latency_p99,
            lambda s: s.latency_count,
        ),
        Measure(
            "error_ratio",
            "sse_errors_total per unit of work (notifications published + stream requests)",
            0.01,
            lambda s: _ratio(s.errors, s.published + s.connection_attempts),
            lambda s: s.published + s.connection_attempts,
        ),
        Measure(
            "rejection_ratio",
            "stream requests refused for user_limit, global_limit or draining, over the stream requests that "
            "reached the capacity check (not_in_rollout and unauthorized left out)",
            0.05,
            lambda s: _ratio(s.rejected_by_health, capacity_checked(s)),
            capacity_checked,
        ),
        Measure(
            "slow_consumer_disconnects_per_minute",
            "streams closed with reason overflow (queue full), per minute",
            1.0,
            lambda s: s.overflow_disconnects * 60.0 / s.window_seconds if s.window_seconds > 0 else 0.0,
            lambda s: s.delivered,
        ),
    )
}


def default_gates() -> tuple[Gate, ...]:
    return tuple(
        Gate(name=measure.name, measure=measure.name, query=None, max=measure.default_max, min=None)
        for measure in MEASURES.values()
    )


def custom_queries(plan: Plan) -> dict[str, str]:
    """Gate name → PromQL for the gates written as queries (Prometheus source only)."""
    return {gate.name: gate.query for gate in plan.gates if gate.query is not None}


def _verdict(gate: Gate, value: float | None) -> Verdict:
    if value is None:
        return Verdict.NO_DATA
    if gate.max is not None and value > gate.max:
        return Verdict.FAIL
    if gate.min is not None and value < gate.min:
        return Verdict.FAIL
    if gate.warn is not None and (value > gate.warn if gate.max is not None else value < gate.warn):
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def read_gates(plan: Plan, sample: WindowSample | None) -> tuple[GateReading, ...]:
    """Each gate's value and verdict for one window; all NO_DATA below the plan's min_traffic."""
    readings = []
    enough = sample is not None and sample.delivered >= plan.min_traffic
    for gate in plan.gates:
        value: float | None = None
        samples = 0.0
        if sample is not None:
            if gate.measure is not None:
                measure = MEASURES[gate.measure]
                value, samples = measure.value(sample), measure.samples(sample)
            else:
                value, samples = sample.queries.get(gate.name), sample.delivered
        verdict = _verdict(gate, value) if enough else Verdict.NO_DATA
        abort = verdict is Verdict.FAIL and gate.abort_above is not None and value is not None and value > gate.abort_above
        readings.append(GateReading(gate.name, value, gate.threshold_text, samples, verdict, gate.dry_run, abort))
    return tuple(readings)


def check(plan: Plan, step: int, now: float, sample: WindowSample | None) -> CheckResult:
    return CheckResult(time=now, step=step, readings=read_gates(plan, sample), sample=sample)
