"""How rollout commands print: readable tables for people, `--json` for scripts."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from .report import StepSummary, Suggestion
from .types import Transition


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def number(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_status(view: dict[str, Any]) -> None:
    step = f"{view['step']} ({view['step_number']}/{view['steps']})" if view["step"] else "-"
    audience = f"{view['percentage']}%"
    if view["allowlist"]:
        audience += f" + {len(view['allowlist'])} allowlisted"
    fields = [
        ("flag", view["flag"]),
        ("phase", view["phase"]),
        ("step", step),
        ("audience", audience),
        ("in phase", duration(view["seconds_in_phase"])),
        ("in step", f"{duration(view['seconds_in_step'])} of {duration(view['bake_time'])} bake"),
        ("failures", f"{view['consecutive_failures']} of {view['failure_limit']} before rollback"),
        ("last check", when(view["last_check_at"])),
        ("why", view["message"] or "-"),
        ("next", view["next_action"] + (f" (at {when(view['next_action_at'])})" if view["next_action_at"] else "")),
    ]
    print("\n".join(f"{name:<11} {value}" for name, value in fields))
    if view["gates"]:
        print()
        print(
            table(
                ["gate", "value", "threshold", "samples", "verdict"],
                [[g["gate"], number(g["value"]), g["threshold"], f"{g['samples']:g}", g["verdict"]] for g in view["gates"]],
            )
        )


def print_history(transitions: list[Transition]) -> None:
    rows = [
        [when(t.time), t.actor, t.action, f"{t.from_phase} → {t.to_phase}", t.to_step or "off", f"{t.percentage}%", t.reason]
        for t in transitions
    ]
    print(table(["time", "actor", "action", "phase", "step", "audience", "reason"], rows) if rows else "no transitions yet")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def print_report(summaries: list[StepSummary], suggestions: list[Suggestion]) -> None:
    if not summaries:
        print("no recorded checks yet: run `flagstream rollout watch` for a while first")
        return
    print(
        table(
            [
                "step",
                "%",
                "checks",
                "minutes",
                "delivered",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "worst p99",
                "error ratio",
                "conn/user",
                "slow consumers",
                "user-limit refusals",
            ],
            [
                [
                    s.step,
                    str(s.percentage),
                    str(s.checks),
                    f"{s.minutes:.1f}",
                    f"{s.delivered:g}",
                    _ms(s.latency_p50),
                    _ms(s.latency_p90),
                    _ms(s.latency_p99),
                    _ms(s.worst_p99),
                    f"{s.error_ratio:.4f}",
                    "-" if s.connections_per_user is None else f"{s.connections_per_user:.2f}",
                    f"{s.overflow_disconnects:g} ({s.overflow_per_minute:.2f}/min)",
                    f"{s.user_limit_rejections:g}",
                ]
                for s in summaries
            ],
        )
    )
    print()
    if not suggestions:
        print("suggestions: none — the recorded numbers do not argue for changing a setting")
        return
    print("suggestions:")
    for suggestion in suggestions:
        print(f"  FLAGSTREAM_{suggestion.setting}: {suggestion.change}\n    evidence: {suggestion.evidence}")
