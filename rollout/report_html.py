"""`flagstream rollout report --html FILE`: the Phase-4 report as one self-contained page.

Inline CSS and inline SVG only (no script, no external asset), so the file can be mailed,
attached to a ticket or opened offline. Per step: each gate's value against its threshold over
time, deliveries, latency percentiles, slow-consumer cuts, streams against pollers; each
suggestion sits next to the chart whose numbers argue for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from . import report_charts as charts
from .live_view import check_verdict, event_kind
from .report import StepSummary, Suggestion, widest
from .types import CheckResult, Gate, Plan, Transition, WindowSample

OVERVIEW_SIZE = {"width": 1120, "height": 240, "bottom": 186}
# Which chart holds the evidence for a suggestion about each setting.
EVIDENCE_CHART = {
    "QUEUE_SIZE": "overflow",
    "BATCH_WINDOW_MS": "latency",
    "MAX_CONNECTIONS_PER_USER": "streams",
    "USER_LIMIT_POLICY": "streams",
    "PING_INTERVAL": "streams",
}


@dataclass(frozen=True)
class Figure:
    chart: str
    title: str
    svg: str


def _ms(v: float) -> str:
    return f"{v * 1000:g} ms"


def _count(v: float) -> str:
    return f"{v:g}"


def _gate_value(v: float) -> str:
    return f"{v:.3g}"


def _title(check: CheckResult, verdict: str) -> str:
    readings = "; ".join(
        f"{r.gate} = {'no data' if r.value is None else f'{r.value:.4g}'} ({r.threshold}, {r.verdict.value})"
        for r in check.readings
    )
    return f"{charts.hhmm(check.time)} UTC {verdict.replace('_', ' ')}: {readings}"


def _gate_verdict(check: CheckResult, verdict: str, transitions: list[Transition]) -> str:
    """The gate's own verdict; a pass while a human held promotion reads ``hold``."""
    return "hold" if verdict == "pass" and check_verdict(check, transitions) == "hold" else verdict


def _gate_figure(gate: Gate, checks: list[CheckResult], transitions: list[Transition], max_gap: float) -> Figure:
    limit = gate.max if gate.max is not None else gate.min
    readings = [(c, next((r for r in c.readings if r.gate == gate.name), None)) for c in checks]
    # A reading the controller could not judge (too little traffic) is a gap on the line and a
    # grey mark on the lane below, whatever number the window happened to show.
    judged = [(c, r) for c, r in readings if r is not None and r.value is not None and r.verdict.value != "no_data"]
    values = [r.value for _, r in judged if r.value is not None]  # all of them: judged ones have a value
    frame = charts.time_frame([c.time for c in checks], max(values + [(limit or 0) * 1.5]))
    kept = {id(c) for c, _ in judged}
    points = [(c.time, r.value if id(c) in kept and r is not None else None) for c, r in readings]
    dots = [
        (c.time, r.value, _gate_verdict(c, r.verdict.value, transitions), _title(c, r.verdict.value))
        for c, r in judged
        if r.value is not None
    ]
    unjudged = [(c.time, _title(c, "no_data")) for c, _ in readings if id(c) not in kept]
    svg = (
        frame.open_svg(f"gate-{gate.name}", f"{gate.name} against {gate.threshold_text}")
        + charts.axes(frame, _gate_value)
        + (charts.threshold(frame, limit, f"want {gate.threshold_text}") if limit is not None else "")
        + charts.line(frame, points, "#9aa3b5", max_gap)
        + charts.dots(frame, dots)
        + charts.no_data_marks(frame, unjudged)
        + "</svg>"
    )
    return Figure(f"gate-{gate.name}", f"{gate.name} (want {gate.threshold_text})", svg)


def _series_figure(
    chart: str,
    title: str,
    checks: list[CheckResult],
    series: list[tuple[str, Callable[[WindowSample], float | None]]],
    fmt: Callable[[float], str],
    max_gap: float,
) -> Figure:
    samples = [(c.time, c.sample) for c in checks if c.sample is not None]
    lines = [(name, [(t, get(s)) for t, s in samples]) for name, get in series]
    values = [v for _, points in lines for _, v in points if v is not None]
    frame = charts.time_frame([c.time for c in checks], max(values, default=0.0))
    body = "".join(charts.line(frame, points, charts.SERIES_COLOURS[i], max_gap) for i, (_, points) in enumerate(lines))
    svg = frame.open_svg(chart, title) + charts.axes(frame, fmt) + body + "</svg>"
    legend = charts.legend((name, charts.SERIES_COLOURS[i]) for i, (name, _) in enumerate(lines))
    return Figure(chart, title, legend + svg)


def _bars_figure(chart: str, title: str, checks: list[CheckResult], get: Callable[[WindowSample], float], colour: str) -> Figure:
    windows = [(c.time, c.sample.window_seconds, get(c.sample)) for c in checks if c.sample is not None]
    frame = charts.time_frame([c.time for c in checks], max((v for *_, v in windows), default=0.0))
    svg = frame.open_svg(chart, title) + charts.axes(frame, _count) + charts.bars(frame, windows, colour) + "</svg>"
    return Figure(chart, title, svg)


def _pollers(percentage: int) -> Callable[[WindowSample], float | None]:
    def estimate(sample: WindowSample) -> float | None:
        if percentage >= 100:
            return 0.0
        return sample.users * (100 - percentage) / percentage if percentage > 0 else None

    return estimate


def step_figures(plan: Plan, index: int, checks: list[CheckResult], transitions: list[Transition]) -> list[Figure]:
    step = plan.steps[index]
    gap = step.interval * 2.5
    figures = [_gate_figure(gate, checks, transitions, gap) for gate in plan.gates]
    figures += [
        _bars_figure("deliveries", "events delivered per check window", checks, lambda s: s.delivered, charts.SERIES_COLOURS[0]),
        _series_figure(
            "latency",
            "delivery latency percentiles",
            checks,
            [
                ("p50", lambda s: s.latency_p50),
                ("p90", lambda s: s.latency_p90),
                ("p99", lambda s: s.latency_p99),
            ],
            _ms,
            gap,
        ),
        _bars_figure(
            "overflow",
            "slow-consumer cuts per check window",
            checks,
            lambda s: s.overflow_disconnects,
            charts.VERDICT_COLOURS["fail"],
        ),
        _series_figure(
            "streams",
            "streams against pollers",
            checks,
            [
                ("open streams", lambda s: s.connections),
                ("users streaming", lambda s: s.users),
                ("users polling (estimated from the audience)", _pollers(step.percentage)),
                ("stream requests per window", lambda s: s.connection_attempts),
            ],
            _count,
            gap,
        ),
    ]
    return figures


def _summary_table(s: StepSummary) -> str:
    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v * 1000:.1f} ms"

    cells = [
        ("checks", f"{s.checks} over {s.minutes:.0f} min"),
        ("delivered", f"{s.delivered:g}"),
        ("p50 / p90 / p99", f"{ms(s.latency_p50)} / {ms(s.latency_p90)} / {ms(s.latency_p99)}"),
        ("worst p99", ms(s.worst_p99)),
        ("error ratio", f"{s.error_ratio:.4f}"),
        ("connections per user", "–" if s.connections_per_user is None else f"{s.connections_per_user:.2f}"),
        ("slow-consumer cuts", f"{s.overflow_disconnects:g} ({s.overflow_per_minute:.2f}/min)"),
        ("user-limit refusals", f"{s.user_limit_rejections:g}"),
    ]
    return '<dl class="summary">' + "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in cells) + "</dl>"


def _suggestion_aside(suggestion: Suggestion) -> str:
    return (
        f'<aside class="suggestion" id="suggestion-{escape(suggestion.setting)}">'
        f"<h4>FLAGSTREAM_{escape(suggestion.setting)}</h4><p>{escape(suggestion.change)}</p>"
        f'<p class="evidence">{escape(suggestion.evidence)}</p></aside>'
    )


def _step_section(
    plan: Plan,
    index: int,
    summary: StepSummary,
    checks: list[CheckResult],
    transitions: list[Transition],
    suggestions: list[Suggestion],
) -> str:
    step = plan.steps[index]
    by_chart: dict[str, list[Suggestion]] = {}
    for suggestion in suggestions:
        by_chart.setdefault(EVIDENCE_CHART.get(suggestion.setting, "streams"), []).append(suggestion)
    rows = []
    for figure in step_figures(plan, index, checks, transitions):
        asides = "".join(_suggestion_aside(s) for s in by_chart.get(figure.chart, []))
        rows.append(
            f'<div class="row{" with-evidence" if asides else ""}"><figure data-figure="{escape(figure.chart)}">'
            f"<figcaption>{escape(figure.title)}</figcaption>{figure.svg}</figure>{asides}</div>"
        )
    head = (
        f"{escape(step.name)} <span>{step.percentage} %"
        + (f" + {len(step.allowlist)} allowlisted" if step.allowlist else "")
        + "</span>"
    )
    return (
        f'<section class="step" id="step-{escape(step.name)}"><h2>{head}</h2>{_summary_table(summary)}'
        f'<div class="figures">{"".join(rows)}</div></section>'
    )


def _overview(plan: Plan, checks: list[CheckResult], transitions: list[Transition], until: float) -> str:
    times = [c.time for c in checks] + [t.time for t in transitions]
    if not times:
        return ""
    frame = charts.time_frame(times + [until], 100.0, **OVERVIEW_SIZE)
    steps = [(t.time, float(t.percentage)) for t in transitions]
    events = [
        (
            t.time,
            event_kind(t),
            f"{t.action} · {t.actor}",
            f"{t.actor}: {t.action} → {t.to_step or 'off'} ({t.percentage} %) — {t.reason}",
        )
        for t in transitions
        if event_kind(t) != "automatic"
    ]
    verdicts = [(c, check_verdict(c, transitions)) for c in checks]
    dots = charts.lane_dots(frame, [(c.time, verdict, _title(c, verdict)) for c, verdict in verdicts])
    svg = (
        frame.open_svg("overview", "audience over time, every check, who acted and why")
        + charts.axes(frame, lambda v: f"{v:g} %")
        + charts.event_marks(frame, events)
        + charts.step_line(frame, steps, until)
        + dots
        + "</svg>"
    )
    legend = charts.legend(
        [("audience %", charts.SERIES_COLOURS[0])]
        + [
            (name, charts.VERDICT_COLOURS[key])
            for key, name in (("pass", "pass"), ("fail", "fail"), ("no_data", "no data (hold)"), ("hold", "held by a human"))
        ]
        + [("rollback", charts.VERDICT_COLOURS["fail"]), ("manual action", charts.MANUAL_COLOUR)]
    )
    return f'<section class="overview"><h2>The rollout</h2>{legend}{svg}</section>'


def _history(transitions: list[Transition]) -> str:
    rows = "".join(
        f'<tr class="{event_kind(t)}"><td>{charts.hhmm(t.time)} UTC</td><td>{escape(t.actor)}</td><td>{escape(t.action)}</td>'
        f"<td>{escape(t.to_step or 'off')} ({t.percentage} %)</td><td>{escape(t.reason)}</td></tr>"
        for t in transitions
    )
    return (
        '<section class="history"><h2>Who did what, and why</h2><table><thead><tr><th>time</th><th>who</th>'
        f"<th>action</th><th>to</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def render_report(
    plan: Plan,
    checks: list[CheckResult],
    transitions: list[Transition],
    summaries: list[StepSummary],
    suggestions: list[Suggestion],
    generated_at: float,
) -> str:
    from .report_page import page

    checks = sorted(checks, key=lambda c: c.time)
    transitions = sorted(transitions, key=lambda t: t.time)
    evidence_step = widest(summaries).step if summaries else None
    sections = []
    for summary in summaries:
        index = plan.step_index(summary.step)
        step_checks = [c for c in checks if c.step == index]
        shown = suggestions if summary.step == evidence_step else []
        sections.append(_step_section(plan, index, summary, step_checks, transitions, shown))
    until = max([c.time for c in checks] + [t.time for t in transitions], default=generated_at)
    return page(
        plan,
        suggestions,
        evidence_step,
        _overview(plan, checks, transitions, until),
        sections,
        _history(transitions),
        generated_at,
    )
