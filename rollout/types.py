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
    PREVIOUS = "previous"  # back to the previous step's audience (off before the first step)
    OFF = "off"  # disable the flag for everyone


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NO_DATA = "no_data"  # too little traffic in the window to judge: hold, never advance
    INCONCLUSIVE = "inconclusive"  # between a gate's warn and its threshold: hold, count no failure


class DeadlineAction(str, Enum):
    PAUSE = "pause"  # pause (the webhook carries the transition); rollback stays armed
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Step:
    name: str
    percentage: int
    allowlist: tuple[str, ...]
    bake_time: float
    interval: float
    requires_approval: bool = False
    progress_deadline: float | None = None  # seconds at the step before the deadline action
    admission_delay: float = 0.0  # after the flag write, before the bake clock starts (users arriving)

    def bake_started(self, step_since: float) -> float:
        """When the bake clock starts: the flag write plus the time newly admitted users take to arrive."""
        return step_since + self.admission_delay


@dataclass(frozen=True)
class Gate:
    """One check: a measure (built in) or a PromQL query, compared with a threshold.

    ``max`` fails the gate when the value is above it, ``min`` when below it. Between
    ``warn`` and the threshold the reading is inconclusive (hold, no failure counted);
    past ``abort_above`` one reading rolls back at once; a ``dry_run`` gate is recorded
    but never decides anything.
    """

    name: str
    measure: str | None
    query: str | None
    max: float | None
    min: float | None
    warn: float | None = None
    abort_above: float | None = None
    dry_run: bool = False

    @property
    def threshold_text(self) -> str:
        text = f"<= {self.max:g}" if self.max is not None else f">= {self.min:g}"
        if self.warn is not None:
            text += f" (warn {self.warn:g})"
        if self.abort_above is not None:
            text += f" (abort > {self.abort_above:g})"
        return text + (" [dry run]" if self.dry_run else "")


@dataclass(frozen=True)
class Plan:
    flag: str
    steps: tuple[Step, ...]
    gates: tuple[Gate, ...]
    failure_limit: int
    rollback: RollbackMode
    min_traffic: int  # events delivered per window below which every gate is NO_DATA
    source_path: str = ""
    no_data_limit: int = 0  # consecutive no-data checks before the deadline action (0: never)
    on_deadline: DeadlineAction = DeadlineAction.PAUSE
    guard_window: float = 0.0  # seconds after completion during which gates still roll back
    capacity_headroom: float | None = None  # hold when projected connections > limit × this

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
    connection_attempts: float = 0.0  # every stream request, 204s (not_in_rollout) included
    streams_opened: float | None = None  # 200s; None in checks recorded before it was measured
    reconnects: float | None = None  # streams resumed with Last-Event-ID, or a user's repeat (sse_reconnects_total)
    rejected_by_health: float = 0.0  # user_limit, global_limit, draining
    rejected_user_limit: float = 0.0
    overflow_disconnects: float = 0.0
    connections: float = 0.0  # gauges, at the end of the window
    users: float = 0.0
    users_with_many_connections: float = 0.0  # users holding the per-user limit's last bucket ("5+")
    connections_limit: float = 0.0  # the fleet's sse_connections_limit (summed over instances)
    queries: dict[str, float | None] = field(default_factory=dict)  # custom PromQL gate values


@dataclass(frozen=True)
class GateReading:
    gate: str
    value: float | None
    threshold: str
    samples: float
    verdict: Verdict
    dry_run: bool = False  # recorded, never counted
    abort: bool = False  # past the gate's abort_above: roll back now

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "gate": self.gate,
            "value": self.value,
            "threshold": self.threshold,
            "samples": self.samples,
            "verdict": self.verdict.value,
        }
        if self.dry_run:
            data["dry_run"] = True
        if self.abort:
            data["abort"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateReading:
        return cls(
            gate=data["gate"],
            value=data["value"],
            threshold=data["threshold"],
            samples=data["samples"],
            verdict=Verdict(data["verdict"]),
            dry_run=bool(data.get("dry_run", False)),
            abort=bool(data.get("abort", False)),
        )


@dataclass(frozen=True)
class CheckResult:
    time: float
    step: int
    readings: tuple[GateReading, ...]
    sample: WindowSample | None

    @property
    def counted(self) -> tuple[GateReading, ...]:
        return tuple(reading for reading in self.readings if not reading.dry_run)

    @property
    def verdict(self) -> Verdict:
        verdicts = {reading.verdict for reading in self.counted}
        for verdict in (Verdict.FAIL, Verdict.NO_DATA, Verdict.INCONCLUSIVE):
            if verdict in verdicts:
                return verdict
        return Verdict.PASS if verdicts else Verdict.NO_DATA

    @property
    def aborted(self) -> tuple[GateReading, ...]:
        return tuple(reading for reading in self.counted if reading.abort)


@dataclass(frozen=True)
class ControllerState:
    """The controller's persisted state; replaced (never mutated) on every change."""

    flag: str
    phase: Phase = Phase.PENDING
    step: int = -1  # index into plan.steps; -1 before start
    phase_since: float = 0.0  # when the phase (or step) was entered
    step_since: float = 0.0  # when the current step's audience was applied
    consecutive_failures: int = 0
    next_check_at: float | None = None
    last_check: tuple[GateReading, ...] = ()
    last_check_at: float | None = None
    message: str = ""  # why we are where we are, for `status`
    consecutive_no_data: int = 0
    hold: str = ""  # the hold last written to the audit log ("" when not holding)


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
