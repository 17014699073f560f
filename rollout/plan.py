"""Reading and validating `rollout.toml`; every error names the key that is wrong."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from .gates import MEASURES, default_gates
from .types import DeadlineAction, Gate, Plan, PlanError, RollbackMode, Step

_TOP_KEYS = {
    "flag",
    "failure_limit",
    "rollback",
    "min_traffic",
    "bake_time",
    "interval",
    "steps",
    "gates",
    "no_data_limit",
    "on_deadline",
    "progress_deadline",
    "guard_window",
    "capacity_headroom",
    "admission_delay",
}
_STEP_KEYS = {"name", "percentage", "allowlist", "bake_time", "interval", "approval", "progress_deadline", "admission_delay"}
_GATE_KEYS = {"name", "measure", "query", "max", "min", "warn", "abort_above", "dry_run"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_FLAG_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

DEFAULT_BAKE_TIME = 600.0
DEFAULT_INTERVAL = 60.0
DEFAULT_FAILURE_LIMIT = 3
DEFAULT_MIN_TRAFFIC = 100


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: plan file not found") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot read plan: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: plan is not UTF-8 text") from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "rollout.toml") -> Plan:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML: {exc}") from None
    return _Reader(source).plan(raw)


def parse_duration(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool):
        raise PlanError(f'{source}: {key}: must be a duration like 30, "90s", "5m" or "1h"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise PlanError(f'{source}: {key}: must be a duration like 30, "90s", "5m" or "1h", got {value!r}')
    if seconds <= 0:
        raise PlanError(f"{source}: {key}: must be more than 0 seconds, got {value!r}")
    return seconds


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> PlanError:
        return PlanError(f"{self.source}: {key}: {message}")

    def unknown_keys(self, table: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(prefix + key, f"unknown key (known: {', '.join(sorted(allowed))})")

    def integer(self, value: Any, key: str, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise self.fail(key, f"must be an integer {bounds}, got {value!r}")
        return value

    def plan(self, raw: dict[str, Any]) -> Plan:
        self.unknown_keys(raw, _TOP_KEYS, "")
        flag = raw.get("flag")
        if not isinstance(flag, str) or not _FLAG_NAME.match(flag):
            raise self.fail("flag", f"required: the flag's name (letters, digits, _ . : -), got {flag!r}")
        try:
            rollback = RollbackMode(raw.get("rollback", RollbackMode.PREVIOUS.value))
        except ValueError:
            raise self.fail("rollback", f'must be "previous" or "off", got {raw.get("rollback")!r}') from None
        bake_time = parse_duration(raw.get("bake_time", DEFAULT_BAKE_TIME), "bake_time", self.source)
        interval = parse_duration(raw.get("interval", DEFAULT_INTERVAL), "interval", self.source)
        deadline = self.optional_duration(raw, "progress_deadline", "progress_deadline")
        admission = self.delay(raw, "admission_delay", "admission_delay", 0.0)
        steps = self.steps(raw.get("steps"), bake_time, interval, deadline, admission)
        try:
            on_deadline = DeadlineAction(raw.get("on_deadline", DeadlineAction.PAUSE.value))
        except ValueError:
            raise self.fail("on_deadline", f'must be "pause" or "rollback", got {raw.get("on_deadline")!r}') from None
        headroom = raw.get("capacity_headroom")
        number = isinstance(headroom, int | float) and not isinstance(headroom, bool)
        if headroom is not None and not (number and 0 < headroom <= 1):
            raise self.fail("capacity_headroom", f"must be a number in (0, 1], e.g. 0.8, got {headroom!r}")
        gates = self.gates(raw["gates"]) if "gates" in raw else default_gates()
        return Plan(
            flag=flag,
            steps=steps,
            gates=gates,
            failure_limit=self.integer(raw.get("failure_limit", DEFAULT_FAILURE_LIMIT), "failure_limit", 1),
            rollback=rollback,
            min_traffic=self.integer(raw.get("min_traffic", DEFAULT_MIN_TRAFFIC), "min_traffic", 0),
            source_path=self.source,
            no_data_limit=self.integer(raw.get("no_data_limit", 0), "no_data_limit", 0),
            on_deadline=on_deadline,
            guard_window=self.optional_duration(raw, "guard_window", "guard_window") or 0.0,
            capacity_headroom=float(headroom) if headroom is not None else None,
        )

    def delay(self, table: dict[str, Any], name: str, key: str, default: float) -> float:
        """A duration that may be 0 (leave it out, or write 0, for none)."""
        value = table.get(name, default)
        if not isinstance(value, bool) and value in (0, "0", "0s"):
            return 0.0
        return parse_duration(value, key, self.source)

    def optional_duration(self, table: dict[str, Any], name: str, key: str) -> float | None:
        return parse_duration(table[name], key, self.source) if name in table else None

    def steps(self, raw: Any, bake_time: float, interval: float, deadline: float | None, admission: float) -> tuple[Step, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail("steps", "required: at least one [[steps]] table")
        steps: list[Step] = []
        allowlist: tuple[str, ...] = ()
        percentage = 0
        for index, table in enumerate(raw):
            prefix = f"steps[{index}]"
            if not isinstance(table, dict):
                raise self.fail(prefix, "must be a table ([[steps]])")
            self.unknown_keys(table, _STEP_KEYS, prefix + ".")
            name = table.get("name", f"step-{index + 1}")
            if not isinstance(name, str) or not name.strip():
                raise self.fail(prefix + ".name", f"must be a non-empty string, got {name!r}")
            if any(step.name == name for step in steps):
                raise self.fail(prefix + ".name", f"duplicate step name {name!r}")
            # A step that leaves out its audience keeps the previous step's, so steps read as changes.
            if "allowlist" in table:
                allowlist = self.user_ids(table["allowlist"], prefix + ".allowlist")
            if "percentage" in table:
                percentage = self.integer(table["percentage"], prefix + ".percentage", 0, 100)
            if not allowlist and percentage == 0:
                raise self.fail(prefix, "reaches nobody: give it an allowlist or a percentage above 0")
            approval = table.get("approval", False)
            if not isinstance(approval, bool):
                raise self.fail(prefix + ".approval", f"must be true or false, got {approval!r}")
            steps.append(
                Step(
                    name=name,
                    percentage=percentage,
                    allowlist=allowlist,
                    bake_time=parse_duration(table.get("bake_time", bake_time), prefix + ".bake_time", self.source),
                    interval=parse_duration(table.get("interval", interval), prefix + ".interval", self.source),
                    requires_approval=approval,
                    progress_deadline=(
                        self.optional_duration(table, "progress_deadline", prefix + ".progress_deadline") or deadline
                    ),
                    admission_delay=self.delay(table, "admission_delay", prefix + ".admission_delay", admission),
                )
            )
        return tuple(steps)

    def user_ids(self, raw: Any, key: str) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(u, str) and u.strip() for u in raw):
            raise self.fail(key, "must be a list of user id strings")
        return tuple(dict.fromkeys(raw))

    def gates(self, raw: Any) -> tuple[Gate, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail("gates", "must be one or more [[gates]] tables (leave it out for the defaults)")
        gates: list[Gate] = []
        for index, table in enumerate(raw):
            prefix = f"gates[{index}]"
            if not isinstance(table, dict):
                raise self.fail(prefix, "must be a table ([[gates]])")
            self.unknown_keys(table, _GATE_KEYS, prefix + ".")
            measure, query = table.get("measure"), table.get("query")
            if (measure is None) == (query is None):
                raise self.fail(prefix, "give exactly one of measure or query")
            if measure is not None and measure not in MEASURES:
                raise self.fail(prefix + ".measure", f"unknown measure {measure!r} (known: {', '.join(MEASURES)})")
            if query is not None and (not isinstance(query, str) or not query.strip()):
                raise self.fail(prefix + ".query", "must be a PromQL expression string")
            name = table.get("name", measure)
            if not isinstance(name, str) or not name.strip():
                raise self.fail(prefix + ".name", "required for a query gate: a short name")
            if any(gate.name == name for gate in gates):
                raise self.fail(prefix + ".name", f"duplicate gate name {name!r}")
            high, low = self.threshold(table, "max", prefix), self.threshold(table, "min", prefix)
            if high is None and low is None:
                if measure is None:
                    raise self.fail(prefix, "give a threshold: max or min")
                high = MEASURES[measure].default_max
            if high is not None and low is not None:
                raise self.fail(prefix, "give one threshold, max or min, not both")
            warn, abort = self.threshold(table, "warn", prefix), self.threshold(table, "abort_above", prefix)
            if warn is not None and (warn >= high if high is not None else warn <= low):  # type: ignore[operator]
                side = f"below max {high:g}" if high is not None else f"above min {low:g}"
                raise self.fail(prefix + ".warn", f"must be {side} (the inconclusive band lies between them), got {warn:g}")
            if abort is not None and (high is None or abort < high):
                raise self.fail(prefix + ".abort_above", "needs a max gate and must be at or above its max")
            dry_run = table.get("dry_run", False)
            if not isinstance(dry_run, bool):
                raise self.fail(prefix + ".dry_run", f"must be true or false, got {dry_run!r}")
            gates.append(
                Gate(name=name, measure=measure, query=query, max=high, min=low, warn=warn, abort_above=abort, dry_run=dry_run)
            )
        return tuple(gates)

    def threshold(self, table: dict[str, Any], key: str, prefix: str) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{prefix}.{key}", f"must be a number, got {value!r}")
        return float(value)
