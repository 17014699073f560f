"""The speed goals of issue #15, each checked against the runs of one session.

Ratios are to the floor (benchmarks/peers/bare_asgi.py) measured with the same generator and
the same arguments; "beat Node" compares `WORKERS=2` on Redis with Node better-sse's single
process. Each row says what was measured, so a goal not met shows by how much.
"""

from __future__ import annotations

from collections.abc import Callable

Reports = dict[str, dict]
Goal = tuple[str, Callable[[Reports], tuple[str, bool | None]]]


def _p99(rep: dict) -> float | None:
    return (rep.get("latency_ms") or {}).get("p99")


def _ratio(name: str, key: str, limit: float, label: str) -> Callable[[Reports], tuple[str, bool | None]]:
    def check(r: Reports) -> tuple[str, bool | None]:
        ours, floor = r.get(name), r.get(f"peer-bare-{name}")
        if ours is None or floor is None:
            return "not run", None
        a, b = (_p99(ours), _p99(floor)) if key == "p99" else (ours.get(key), floor.get(key))
        if not a or not b:
            return "not measured", None
        return f"{label} {a:,.2f} vs floor {b:,.2f}: {a / b:.2f}×", a / b <= limit

    return check


def _at_most(name: str, key: str, limit: float, label: str) -> Callable[[Reports], tuple[str, bool | None]]:
    def check(r: Reports) -> tuple[str, bool | None]:
        ours, floor = r.get(name), r.get(f"peer-bare-{name}")
        if ours is None or not ours.get(key):
            return "not run", None
        text = f"{label} {ours[key]:,.2f}"
        if floor is not None and floor.get(key):
            text += f" (floor {floor[key]:,.2f})"
        return text, ours[key] <= limit and ours["ok"]

    return check


def _bursts(r: Reports) -> tuple[str, bool | None]:
    ours, floor = r.get("broadcast-1k"), r.get("peer-bare-broadcast-1k")
    if ours is None:
        return "not run", None
    text = f"{ours['deliveries_per_second']:,.0f}/s, {ours['server_cpu_us_per_delivery']:.2f} µs CPU per delivery"
    if floor is not None:
        text += f" (floor {floor['deliveries_per_second']:,.0f}/s, {floor['server_cpu_us_per_delivery']:.2f} µs)"
    return text, ours["deliveries_per_second"] >= 1_200_000 and ours["ok"]


def _sustained(r: Reports) -> tuple[str, bool | None]:
    ours, floor = r.get("notify-20k"), r.get("peer-bare-notify-20k")

    def describe(rep: dict) -> str:
        return (
            f"{rep['deliveries_per_second']:,.0f}/s, p99 {_p99(rep) or 0:.1f} ms, "
            f"{rep['server_cpu_percent']:.0f} % CPU, {rep['server_cpu_us_per_delivery']:.1f} µs per delivery"
        )

    if ours is None:
        return "not run", None
    text = describe(ours) + (f"; floor: {describe(floor)}" if floor is not None else "")
    met = ours["deliveries_per_second"] >= 19_500 and (_p99(ours) or 1e9) <= 50 and ours["ok"]
    return text, met


def _beat_node(r: Reports) -> tuple[str, bool | None]:
    steady, connects = r.get("redis-w2-notify-1k-x10"), r.get("redis-w2-idle-10k")
    node_steady, node_connects = r.get("peer-node-notify-1k-x10"), r.get("peer-node-idle-10k")
    if None in (steady, connects, node_steady, node_connects):
        return "not run", None
    assert steady and connects and node_steady and node_connects
    p99, node_p99 = _p99(steady) or 1e9, _p99(node_steady) or 0
    seconds, node_seconds = connects.get("connect_seconds") or 1e9, node_connects.get("connect_seconds") or 0
    text = f"p99 {p99:.1f} vs {node_p99:.1f} ms; 10k connects {seconds:.2f} vs {node_seconds:.2f} s"
    return text, p99 <= node_p99 and seconds <= node_seconds and steady["ok"] and connects["ok"]


def _observability(r: Reports) -> tuple[str, bool | None]:
    on, off = r.get("broadcast-1k-traced-default"), r.get("broadcast-1k-metrics-off")
    if on is None or off is None:
        return "not run", None
    cost = 1 - on["deliveries_per_second"] / off["deliveries_per_second"]
    cpu = on["server_cpu_us_per_delivery"] / off["server_cpu_us_per_delivery"] - 1
    return f"throughput cost {cost:+.1%}, CPU per delivery {cpu:+.1%} (default sampler)", cost <= 0.10


GOALS: tuple[Goal, ...] = (
    (
        "steady path (notify 1,000 × 10/s): server CPU ≤ 1.15 × the floor's",
        _ratio("notify-1k-x10", "server_cpu_us_per_delivery", 1.15, "µs per delivery"),
    ),
    ("steady path: p99 ≤ 1.2 × the floor's", _ratio("notify-1k-x10", "p99", 1.2, "p99 ms")),
    ("≤ 21 KiB per idle stream at 10k", _at_most("idle-10k", "memory_per_stream_kib", 21, "KiB")),
    ("10k connects (JWT, flag, registration, `connected`) ≤ 5 s", _at_most("idle-10k", "connect_seconds", 5, "s")),
    ("bursts ≥ 1.2M deliveries/s", _bursts),
    ("20,000 per-user notifications/s sustained, p99 ≤ 50 ms", _sustained),
    ("metrics + tracing ≤ 10 % of throughput", _observability),
    ("WORKERS=2 on Redis: steady p99 and connect time ≤ Node better-sse", _beat_node),
)


def goals(reports: Reports) -> list[str]:
    out = ["## Issue #15 goals (one session, beside the floor)", "", "| goal | measured | met |", "|---|---|---|"]
    for text, check in GOALS:
        measured, met = check(reports)
        out.append(f"| {text} | {measured} | {'✅ met' if met else '❌ not met' if met is False else '–'} |")
    return out
