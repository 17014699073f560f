"""Shared types of the rollout package: the plan, what a check measured, and the state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class RolloutError(Exception):
    """A rollout problem a release manager can act on; its message is one line."""


class PlanError(RolloutError):
    """The plan file is invalid; the message names the key."""


class LockHeld(RolloutError):
    """Another controller holds the lock."""


class Phase(str, Enum):
    PENDING = "pending"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting_approval"
    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"


# Numeric codes for the `rollout_phase` gauge, in the order of the state machine.
PHASE_CODES = {phase: code for code, phase in enumerate(Phase)}
ACTIVE_PHASES = frozenset({Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_APPROVAL})


class RollbackMode(str, Enum):
    PREVIOUS = "previous"   # back to the previous step's audience (off before the first step)
    OFF = "off"             # disable the flag for everyone


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NO_DATA = "no_data"     # too little traffic in the window to judge: hold, never advance


@dataclass(frozen=True)
class Step:
    name: str
    percentage: int
    allowlist: tuple[str, ...]
    bake_time: float
    interval: float
    requires_approval: bool = False


@dataclass(frozen=True)
class Gate:
    """One check: a measure (built in) or a PromQL query, compared with a threshold.

    ``max`` fails the gate when the value is above it, ``min`` when below it.
    """

    name: str
    measure: str | None
    query: str | None
    max: float | None
    min: float | None

    @property
    def threshold_text(self) -> str:
        return f"<= {self.max:g}" if self.max is not None else f">= {self.min:g}"


@dataclass(frozen=True)
class Plan:
    flag: str
    steps: tuple[Step, ...]
    gates: tuple[Gate, ...]
    failure_limit: int
    rollback: RollbackMode
    min_traffic: int          # events delivered per window below which every gate is NO_DATA
    source_path: str = ""

    def step_index(self, name: str) -> int:
        for index, step in enumerate(self.steps):
            if step.name == name:
                return index
        known = ", ".join(step.name for step in self.steps)
        raise RolloutError(f"no step named {name!r} in the plan (steps: {known})")


@dataclass(frozen=True)
class WindowSample:
    """What the service did during one analysis window (counts are increases over it)."""

    window_seconds: float
    delivered: float = 0.0
    latency_count: float = 0.0
    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p99: float | None = None
    published: float = 0.0
    errors: float = 0.0
    connection_attempts: float = 0.0
    rejected_by_health: float = 0.0     # user_limit, global_limit, draining
    rejected_user_limit: float = 0.0
    overflow_disconnects: float = 0.0
    connections: float = 0.0            # gauges, at the end of the window
    users: float = 0.0
    users_with_many_connections: float = 0.0   # users holding the per-user limit's last bucket ("5+")
    queries: dict[str, float | None] = field(default_factory=dict)   # custom PromQL gate values


@dataclass(frozen=True)
class GateReading:
    gate: str
    value: float | None
    threshold: str
    samples: float
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "value": self.value,
            "threshold": self.threshold,
            "samples": self.samples,
            "verdict": self.verdict.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateReading:
        return cls(
            gate=data["gate"],
            value=data["value"],
            threshold=data["threshold"],
            samples=data["samples"],
            verdict=Verdict(data["verdict"]),
        )


@dataclass(frozen=True)
class CheckResult:
    time: float
    step: int
    readings: tuple[GateReading, ...]
    sample: WindowSample | None

    @property
    def verdict(self) -> Verdict:
        verdicts = {reading.verdict for reading in self.readings}
        if Verdict.FAIL in verdicts:
            return Verdict.FAIL
        if Verdict.NO_DATA in verdicts or not self.readings:
            return Verdict.NO_DATA
        return Verdict.PASS


@dataclass(frozen=True)
class ControllerState:
    """The controller's persisted state; replaced (never mutated) on every change."""

    flag: str
    phase: Phase = Phase.PENDING
    step: int = -1                      # index into plan.steps; -1 before start
    phase_since: float = 0.0            # when the phase (or step) was entered
    step_since: float = 0.0             # when the current step's audience was applied
    consecutive_failures: int = 0
    next_check_at: float | None = None
    last_check: tuple[GateReading, ...] = ()
    last_check_at: float | None = None
    message: str = ""                   # why we are where we are, for `status`


@dataclass(frozen=True)
class Transition:
    """One line of the audit log."""

    time: float
    actor: str
    action: str
    from_phase: str
    to_phase: str
    from_step: str | None
    to_step: str | None
    percentage: int
    reason: str
    gates: tuple[GateReading, ...] = ()


class Clock(Protocol):
    def now(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class MetricSource(Protocol):
    """Where gate values come from: the service's /metrics scraped, or Prometheus."""

    async def start(self) -> None:
        """Take a baseline, so the first check already has a window to look at."""
        ...

    async def sample(self, window_seconds: float, queries: dict[str, str]) -> WindowSample | None:
        """Measure the last window; None when there is no baseline yet (first scrape)."""
        ...

    async def close(self) -> None: ...
