"""How the controller words its reasons: one line each, with the values that caused them."""

from __future__ import annotations

from .types import CheckResult, GateReading, Plan, Verdict


def reading_text(reading: GateReading) -> str:
    value = "no data" if reading.value is None else f"{reading.value:.4g}"
    return f"{reading.gate} = {value} (want {reading.threshold})"


def describe_check(result: CheckResult, failures: int, plan: Plan) -> str:
    if result.verdict is Verdict.FAIL:
        failing = "; ".join(reading_text(r) for r in result.counted if r.verdict is Verdict.FAIL)
        return f"failing ({failures}/{plan.failure_limit}): {failing}"
    if result.verdict is Verdict.INCONCLUSIVE:
        band = "; ".join(reading_text(r) for r in result.counted if r.verdict is Verdict.INCONCLUSIVE)
        return f"holding: inconclusive, between warn and threshold: {band}"
    if result.verdict is Verdict.NO_DATA:
        delivered = result.sample.delivered if result.sample is not None else 0
        if result.sample is None or delivered < plan.min_traffic:
            return f"holding: too little traffic ({delivered:g} events delivered, need {plan.min_traffic})"
        empty = ", ".join(r.gate for r in result.counted if r.verdict is Verdict.NO_DATA)
        return f"holding: no value yet for {empty}"
    return "all gates passing"


def short_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
