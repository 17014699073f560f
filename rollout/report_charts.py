"""Inline SVG charts for the HTML rollout report: no script, no external asset.

Every chart is drawn at its own pixel size (1 unit = 1 px) in a :class:`Frame`, whose scale is
left on the ``<svg>`` as ``data-*`` attributes, so a picture can be checked against the data.
A missing value (no data) is a gap in a line, never a slope across it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

VERDICT_COLOURS = {"pass": "#15803d", "fail": "#c81e1e", "no_data": "#8b93a5", "hold": "#b45309"}
SERIES_COLOURS = ("#2f6fdf", "#c2410c", "#7c3aed", "#0f766e")
THRESHOLD_COLOUR = "#c2410c"
MANUAL_COLOUR = "#7c3aed"


@dataclass(frozen=True)
class Frame:
    """Where time and value land: ``t0``..``t1`` across, ``vmin``..``vmax`` up."""

    t0: float
    t1: float
    vmin: float
    vmax: float
    width: int = 520
    height: int = 190
    left: int = 58
    right: int = 14
    top: int = 14
    bottom: int = 150  # y of vmin; below it: the no-data lane and the time axis

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def lane(self) -> int:
        return self.bottom + 14

    def x(self, t: float) -> float:
        span = self.t1 - self.t0 or 1.0
        return self.left + (t - self.t0) / span * self.plot_width

    def y(self, v: float) -> float:
        span = self.vmax - self.vmin or 1.0
        return self.bottom - (v - self.vmin) / span * (self.bottom - self.top)

    def open_svg(self, chart: str, label: str) -> str:
        scale = (
            f'data-t0="{self.t0}" data-t1="{self.t1}" data-vmin="{self.vmin}" data-vmax="{self.vmax}" '
            f'data-left="{self.left}" data-plot-width="{self.plot_width}" data-top="{self.top}" '
            f'data-bottom="{self.bottom}" data-lane="{self.lane}"'
        )
        return (
            f'<svg class="chart" data-chart="{escape(chart)}" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(label)}" {scale}>'
        )


def nice_max(value: float) -> float:
    """A round upper bound at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power: float = 10 ** math.floor(math.log10(value))  # an int for value >= 1, kept as such
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def time_frame(times: Sequence[float], vmax: float, **size: int) -> Frame:
    start, end = min(times), max(times)
    pad = max((end - start) * 0.03, 30.0)
    return Frame(start - pad, end + pad, 0.0, nice_max(vmax), **size)


def hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def axes(frame: Frame, fmt: Callable[[float], str]) -> str:
    out = []
    for i in range(5):
        v = frame.vmin + (frame.vmax - frame.vmin) * i / 4
        y = frame.y(v)
        out.append(
            f'<line class="grid" x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{frame.left - 5}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(v))}</text>'
        )
    for i in range(4):
        t = frame.t0 + (frame.t1 - frame.t0) * (i + 0.5) / 4
        out.append(f'<text class="tick" x="{frame.x(t):.1f}" y="{frame.height - 4}" text-anchor="middle">{hhmm(t)} UTC</text>')
    return "".join(out)


def runs(points: Iterable[tuple[float, float | None]], max_gap: float) -> list[list[tuple[float, float]]]:
    """Consecutive points with a value; a None, or more than ``max_gap`` seconds, starts a new run."""
    out: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] | None = None
    last = -math.inf
    for t, v in points:
        if v is None:
            current = None
            continue
        if current is None or t - last > max_gap:
            current = []
            out.append(current)
        current.append((t, v))
        last = t
    return out


def line(frame: Frame, points: Iterable[tuple[float, float | None]], colour: str, max_gap: float) -> str:
    paths = []
    for run in runs(points, max_gap):
        d = "".join(f"{'L' if i else 'M'}{frame.x(t):.1f} {frame.y(min(v, frame.vmax)):.1f}" for i, (t, v) in enumerate(run))
        paths.append(f'<path class="series" d="{d}" stroke="{colour}"/>')
    return "".join(paths)


def dots(frame: Frame, points: Iterable[tuple[float, float, str, str]]) -> str:
    """(time, value, verdict, title): a point coloured by its verdict; values past the top sit on it."""
    return "".join(
        f'<circle class="check {verdict}" cx="{frame.x(t):.1f}" cy="{frame.y(min(v, frame.vmax)):.1f}" r="4" '
        f'fill="{VERDICT_COLOURS[verdict]}"><title>{escape(title)}</title></circle>'
        for t, v, verdict, title in points
    )


def lane_dots(frame: Frame, points: Iterable[tuple[float, str, str]]) -> str:
    """(time, verdict, title): every check as a point on the lane under the plot."""
    return "".join(
        f'<circle class="check {verdict}" cx="{frame.x(t):.1f}" cy="{frame.lane}" r="4.5" '
        f'fill="{VERDICT_COLOURS[verdict]}"><title>{escape(title)}</title></circle>'
        for t, verdict, title in points
    )


def no_data_marks(frame: Frame, points: Iterable[tuple[float, str]]) -> str:
    """A grey mark on the lane under the plot for each check that had no data to judge."""
    return "".join(
        f'<rect class="no-data" x="{frame.x(t) - 3:.1f}" y="{frame.lane - 3}" width="6" height="6" '
        f'fill="{VERDICT_COLOURS["no_data"]}"><title>{escape(title)}</title></rect>'
        for t, title in points
    )


def threshold(frame: Frame, value: float, text: str) -> str:
    if not frame.vmin <= value <= frame.vmax:
        return ""
    y = frame.y(value)
    return (
        f'<line class="threshold" x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" '
        f'stroke="{THRESHOLD_COLOUR}"/><text class="threshold-label" x="{frame.width - frame.right - 2}" '
        f'y="{y - 4:.1f}" text-anchor="end" fill="{THRESHOLD_COLOUR}">{escape(text)}</text>'
    )


def bars(frame: Frame, windows: Iterable[tuple[float, float, float]], colour: str) -> str:
    """(end time, window seconds, value): a bar over the window it measured."""
    out = []
    for end, seconds, value in windows:
        x0, x1 = frame.x(end - seconds), frame.x(end)
        y = frame.y(min(value, frame.vmax))
        out.append(
            f'<rect class="bar" x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{frame.bottom - y:.1f}" fill="{colour}"/>'
        )
    return "".join(out)


def step_line(frame: Frame, steps: Sequence[tuple[float, float]], until: float) -> str:
    if not steps:
        return ""
    (t, p), rest = steps[0], steps[1:]
    d = f"M{frame.x(t):.1f} {frame.y(p):.1f}"
    for t, p in rest:
        d += f"H{frame.x(t):.1f}V{frame.y(p):.1f}"
    return f'<path class="series step-line" d="{d}H{frame.x(until):.1f}" stroke="{SERIES_COLOURS[0]}"/>'


def event_marks(frame: Frame, events: Iterable[tuple[float, str, str, str]]) -> str:
    """(time, kind, label, title) for rollbacks and manual actions: a dashed line and a label."""
    out = []
    for i, (t, kind, label, title) in enumerate(events):
        colour = VERDICT_COLOURS["fail"] if kind == "rollback" else MANUAL_COLOUR
        x = frame.x(t)
        near_right = x > frame.width - 140  # labels near the right edge read leftwards
        anchor, text_x = ("end", x - 4) if near_right else ("start", x + 4)
        out.append(
            f'<g class="event {kind}"><title>{escape(title)}</title>'
            f'<line x1="{x:.1f}" y1="{frame.top - 6}" x2="{x:.1f}" y2="{frame.bottom}" stroke="{colour}"/>'
            f'<text x="{text_x:.1f}" y="{frame.top + 4 + (i % 2) * 13}" text-anchor="{anchor}" fill="{colour}">'
            f"{escape(label)}</text></g>"
        )
    return "".join(out)


def legend(items: Iterable[tuple[str, str]]) -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span class="key"><i style="background:{colour}"></i>{escape(text)}</span>' for text, colour in items)
        + "</p>"
    )
