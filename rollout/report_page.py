"""The page around the HTML report's sections: header, suggestions at a glance, inline CSS."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from .report import Suggestion
from .types import Plan

CSS = """
:root { --ink: #1d2330; --muted: #6b7385; --border: #e1e4ea; --bg: #f5f6f8; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { margin: 0 0 8px; font-size: 17px; }
h2 span { color: var(--muted); font-weight: 400; }
h4 { margin: 0 0 4px; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
header p, .muted { color: var(--muted); margin: 0; }
section { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 14px 16px; margin-top: 16px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px 20px; }
.row { display: flex; gap: 12px; align-items: flex-start; }
.row.with-evidence { flex-basis: 100%; }
figure { margin: 0; }
figcaption { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.chart { display: block; font-size: 11px; }
.chart .grid { stroke: var(--border); stroke-width: 1; }
.chart .tick { fill: var(--muted); }
.chart .series { fill: none; stroke-width: 2; }
.chart .threshold { stroke-width: 1.5; }
.chart .threshold-label { font-weight: 600; }
.chart .check { stroke: #fff; stroke-width: 1; }
.chart .event line { stroke-width: 2; stroke-dasharray: 4 3; }
.chart .event text { font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin: 2px 0 4px; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px; vertical-align: -1px; }
.suggestion { max-width: 380px; border-left: 4px solid #c2410c; background: #fff7ed; padding: 8px 12px; border-radius: 4px; }
.suggestion p { margin: 0 0 4px; }
.suggestion .evidence { color: var(--muted); font-size: 13px; }
dl.summary { display: grid; grid-template-columns: repeat(4, max-content 1fr); gap: 4px 12px; margin: 0 0 12px; font-size: 13px; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--border); padding: 4px 8px 4px 0; }
td:first-child { white-space: nowrap; }
td { padding: 4px 8px 4px 0; border-bottom: 1px solid #f0f1f4; vertical-align: top; }
tr.rollback td { color: #c81e1e; }
tr.manual td:nth-child(2) { color: #7c3aed; font-weight: 600; }
ul.glance { margin: 6px 0 0; padding-left: 18px; }
"""


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _glance(suggestions: list[Suggestion], evidence_step: str | None) -> str:
    if not suggestions:
        return (
            '<section class="glance"><h2>Suggestions</h2><p class="muted">none — the recorded numbers do not '
            "argue for changing a setting</p></section>"
        )
    items = "".join(
        f'<li><a href="#suggestion-{escape(s.setting)}">FLAGSTREAM_{escape(s.setting)}</a>: {escape(s.change)}</li>'
        for s in suggestions
    )
    return (
        f'<section class="glance"><h2>Suggestions <span>from step {escape(evidence_step or "")}, '
        f'each next to its chart</span></h2><ul class="glance">{items}</ul></section>'
    )


def page(
    plan: Plan,
    suggestions: list[Suggestion],
    evidence_step: str | None,
    overview: str,
    sections: list[str],
    history: str,
    generated_at: float,
) -> str:
    steps = " → ".join(f"{escape(s.name)} ({s.percentage} %)" for s in plan.steps)
    body = (
        "".join(sections)
        or '<section><p class="muted">no recorded checks yet: run `flagstream rollout watch` for a while first</p></section>'
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Rollout report · {escape(plan.flag)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Rollout report · {escape(plan.flag)}</h1><p>{steps}</p>"
        f"<p>generated {_when(generated_at)} · gates: {escape(', '.join(f'{g.name} {g.threshold_text}' for g in plan.gates))}</p></header>"
        f"{overview}{_glance(suggestions, evidence_step)}{body}{history}</body></html>\n"
    )
