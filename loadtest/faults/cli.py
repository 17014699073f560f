"""`flagstream loadtest faults`: the fault suite's scenarios with more users, reported as a table."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict

from .processes import MissingTool
from .scenarios import FAULTS, FaultOutcome, run_fault

MAX_USERS = 2000  # one machine runs the listeners, the instances, Redis and HAProxy


class FaultUsageError(Exception):
    pass


def selected_faults(text: str) -> list[str]:
    names = list(FAULTS) if text == "all" else [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown or not names:
        raise FaultUsageError(f"--fault: unknown {', '.join(unknown) or '(none)'}; choose from all, {', '.join(FAULTS)}")
    return names


def fault_ok(outcome: FaultOutcome) -> bool:
    """Exactly once and in order; across a Redis wipe, no loss the client was not told of."""
    verdict = outcome.verdict
    if outcome.fault == "redis-restart-wipe":
        return verdict.lost_without_reset == verdict.duplicated == verdict.unexpected == 0
    if outcome.fault == "slow-consumer" and outcome.figures.get("slow_stream_last_event") != "overflow":
        return False
    return verdict.exactly_once_in_order and outcome.recovery_s is not None


def as_table(outcomes: list[FaultOutcome], seconds: dict[str, float]) -> str:
    head = (
        f"{'fault':<20} {'users':>5} {'accepted':>8} {'lost':>5} {'dup':>4} {'silent':>6} {'recovery s':>10} "
        f"{'longest gap s':>13} {'run s':>6}  verdict / figures"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        v = o.verdict
        extra = ", ".join(f"{k}={val}" for k, val in o.figures.items())
        lines.append(
            f"{o.fault:<20} {o.users:>5} {v.accepted:>8} {v.lost:>5} {v.duplicated:>4} {v.lost_without_reset:>6} "
            f"{o.recovery_s if o.recovery_s is not None else '-':>10} {o.longest_silence_s:>13} "
            f"{seconds[o.fault]:>6.1f}  {'ok' if fault_ok(o) else 'FAILED'}{'; ' + extra if extra else ''}"
        )
    return "\n".join(lines)


def run_faults_command(args: argparse.Namespace) -> int:
    try:
        names = selected_faults(args.fault)
        if not 1 <= args.connections <= MAX_USERS:
            raise FaultUsageError(f"--connections: 1 to {MAX_USERS} users for faults, got {args.connections}")
        if args.hold <= 0 or args.hold > 60:
            raise FaultUsageError(f"--hold must be in (0, 60] seconds, got {args.hold}")
    except FaultUsageError as exc:
        print(f"flagstream loadtest: {exc}", file=sys.stderr)
        return 2
    outcomes: list[FaultOutcome] = []
    seconds: dict[str, float] = {}
    for name in names:
        if not args.no_progress:
            print(f"fault {name}: {FAULTS[name].description} ({args.connections} users)…", file=sys.stderr)
        started = time.monotonic()
        try:
            outcomes.append(
                asyncio.run(run_fault(FAULTS[name], args.connections, hold=args.hold, drain_timeout=args.drain_timeout))
            )
        except MissingTool as exc:
            print(f"flagstream loadtest: fault {name} skipped: {exc}", file=sys.stderr)
            continue
        except (OSError, RuntimeError) as exc:
            print(f"flagstream loadtest: fault {name} failed: {exc}", file=sys.stderr)
            return 1
        seconds[name] = time.monotonic() - started
    if args.json:
        print(json.dumps([{**asdict(o), "ok": fault_ok(o), "run_seconds": round(seconds[o.fault], 1)} for o in outcomes]))
    else:
        print(as_table(outcomes, seconds))
    return 0 if outcomes and all(fault_ok(o) for o in outcomes) else 1
