"""JSON forms of the controller's state, its audit lines and its check records."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .types import CheckResult, ControllerState, GateReading, Phase, RolloutError, Transition, WindowSample


def state_to_json(state: ControllerState) -> str:
    data = dataclasses.asdict(state)
    data["phase"] = state.phase.value
    data["last_check"] = [reading.to_json() for reading in state.last_check]
    return json.dumps(data, sort_keys=True)


def state_from_json(text: str, where: str) -> ControllerState:
    try:
        data = json.loads(text)
        data["phase"] = Phase(data["phase"])
        data["last_check"] = tuple(GateReading.from_json(r) for r in data.get("last_check", ()))
        return ControllerState(**data)
    except (ValueError, KeyError, TypeError) as exc:
        raise RolloutError(f"{where}: rollout state is unreadable ({exc}); move it aside to start over") from None


def transition_to_json(transition: Transition) -> str:
    data = dataclasses.asdict(transition)
    data["gates"] = [reading.to_json() for reading in transition.gates]
    return json.dumps(data, sort_keys=True)


def transition_from_json(data: dict[str, Any]) -> Transition:
    data = dict(data)
    data["gates"] = tuple(GateReading.from_json(r) for r in data.get("gates", ()))
    return Transition(**data)


def check_to_json(check: CheckResult) -> str:
    return json.dumps(
        {
            "time": check.time,
            "step": check.step,
            "verdict": check.verdict.value,
            "readings": [reading.to_json() for reading in check.readings],
            "sample": dataclasses.asdict(check.sample) if check.sample is not None else None,
        },
        sort_keys=True,
    )


def check_from_json(data: dict[str, Any]) -> CheckResult:
    sample = data.get("sample")
    return CheckResult(
        time=data["time"],
        step=data["step"],
        readings=tuple(GateReading.from_json(r) for r in data.get("readings", ())),
        sample=WindowSample(**sample) if sample is not None else None,
    )


def parse_lines(lines: list[str], where: str) -> list[dict[str, Any]]:
    """JSON lines, skipping a torn last line (a crash mid-write must not make history unreadable)."""
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            if number == len(lines):
                continue
            raise RolloutError(f"{where}: line {number} is not JSON") from None
    return records
