"""The benchmark runs and the DESIGN.md budgets they are judged against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    name: str
    target: str  # "memory", "memory-nometrics", "redis-haproxy"
    full: tuple[str, ...]  # `flagstream loadtest` arguments at budget scale
    quick: tuple[str, ...]  # the same shape, about a tenth of the size
    profile: bool = False


RUNS = (
    Run(
        "idle-10k",
        "memory",
        ("idle", "-c", "10000", "-d", "5", "--connect-concurrency", "1024"),
        ("idle", "-c", "1000", "-d", "3"),
    ),
    Run(
        "broadcast-1k",
        "memory",
        ("broadcast", "-c", "1000", "--count", "2000", "--broadcast-rate", "100000", "--batch", "500"),
        ("broadcast", "-c", "100", "--count", "1000", "--broadcast-rate", "100000", "--batch", "500"),
        profile=True,
    ),
    Run(
        "broadcast-1k-traced",
        "memory-traced",
        ("broadcast", "-c", "1000", "--count", "2000", "--broadcast-rate", "100000", "--batch", "500"),
        ("broadcast", "-c", "100", "--count", "1000", "--broadcast-rate", "100000", "--batch", "500"),
    ),
    Run(
        "broadcast-1k-traced-default",
        "memory-traced-default",
        ("broadcast", "-c", "1000", "--count", "2000", "--broadcast-rate", "100000", "--batch", "500"),
        ("broadcast", "-c", "100", "--count", "1000", "--broadcast-rate", "100000", "--batch", "500"),
    ),
    Run(
        "broadcast-1k-metrics-off",
        "memory-nometrics",
        ("broadcast", "-c", "1000", "--count", "2000", "--broadcast-rate", "100000", "--batch", "500"),
        ("broadcast", "-c", "100", "--count", "1000", "--broadcast-rate", "100000", "--batch", "500"),
    ),
    Run(
        "notify-1k-x10",
        "memory",
        ("notify", "-c", "1000", "--rate", "10000", "-d", "20", "--batch", "250"),
        ("notify", "-c", "100", "--rate", "1000", "-d", "5", "--batch", "250"),
        profile=True,
    ),
    Run(
        "notify-20k",
        "memory",
        ("notify", "-c", "1000", "--rate", "20000", "-d", "20", "--batch", "1000"),
        ("notify", "-c", "100", "--rate", "2000", "-d", "5", "--batch", "1000"),
    ),
    Run(
        "storm-5k",
        "memory",
        ("storm", "-c", "5000", "--rate", "1000", "-d", "20", "--connect-concurrency", "1024"),
        ("storm", "-c", "500", "--rate", "200", "-d", "6"),
    ),
    Run(
        "mixed-1k",
        "memory",
        ("mixed", "-c", "1000", "--rate", "5000", "--broadcast-rate", "20", "-d", "15"),
        ("mixed", "-c", "100", "--rate", "500", "--broadcast-rate", "10", "-d", "5"),
    ),
    Run(
        "redis-notify-1k",
        "redis-haproxy",
        ("notify", "-c", "1000", "--rate", "5000", "-d", "15", "--batch", "500"),
        ("notify", "-c", "100", "--rate", "500", "-d", "5"),
    ),
    Run(
        "redis-broadcast-1k",
        "redis-haproxy",
        ("broadcast", "-c", "1000", "--count", "1000", "--broadcast-rate", "100000", "--batch", "500"),
        ("broadcast", "-c", "100", "--count", "500", "--broadcast-rate", "100000", "--batch", "500"),
    ),
    Run(
        "redis-storm-2k",
        "redis-haproxy",
        ("storm", "-c", "2000", "--rate", "500", "-d", "15"),
        ("storm", "-c", "200", "--rate", "100", "-d", "6"),
    ),
)

# High-frequency updates (a progress bar per user, 50 updates/s each): every update
# delivered, vs one collapse key per user, vs the same with a debounce window.
COLLAPSE_WINDOW_MS = 200
_UPDATES_FULL = ("-c", "1000", "--rate", "50000", "-d", "10", "--batch", "1000")
_UPDATES_QUICK = ("-c", "200", "--rate", "10000", "-d", "10", "--batch", "1000")
RUNS += (
    Run("updates-1k-plain", "memory", ("notify", *_UPDATES_FULL), ("notify", *_UPDATES_QUICK)),
    Run("updates-1k-collapse", "memory", ("collapse", *_UPDATES_FULL), ("collapse", *_UPDATES_QUICK)),
    Run("updates-1k-collapse-window", "memory-collapse-window", ("collapse", *_UPDATES_FULL), ("collapse", *_UPDATES_QUICK)),
)

# The one-box scale path: one process vs WORKERS=2 on Redis, steady per-user path and connects.
_STEADY = ("notify", "-c", "1000", "--rate", "10000", "-d", "15", "--batch", "250")
_STEADY_QUICK = ("notify", "-c", "100", "--rate", "1000", "-d", "5", "--batch", "250")
_CONNECTS = ("idle", "-c", "10000", "-d", "3", "--connect-concurrency", "1024")
_CONNECTS_QUICK = ("idle", "-c", "1000", "-d", "3")
RUNS += (
    Run("redis-w1-notify-1k-x10", "redis-workers1", _STEADY, _STEADY_QUICK),
    Run("redis-w2-notify-1k-x10", "redis-workers2", _STEADY, _STEADY_QUICK),
    Run("redis-w1-idle-10k", "redis-workers1", _CONNECTS, _CONNECTS_QUICK),
    Run("redis-w2-idle-10k", "redis-workers2", _CONNECTS, _CONNECTS_QUICK),
)

# The floor and the peers (benchmarks/peers/): run target -> column title. Each runs the
# side-by-side scenarios with the same generator and the same arguments as flagstream's runs.
PEERS = {
    "peer-bare": "bare Hypercorn (floor)",
    "peer-quart": "naive Quart",
    "peer-starlette": "sse-starlette + Uvicorn",
    "peer-node": "Node better-sse",
}
SIDE_BY_SIDE = ("idle-10k", "broadcast-1k", "notify-1k-x10")
RUNS += tuple(Run(f"{peer}-{run.name}", peer, run.full, run.quick) for peer in PEERS for run in RUNS if run.name in SIDE_BY_SIDE)
# The floor at 20,000 per-user notifications/s: whether the stack itself sustains the goal.
RUNS += tuple(Run(f"peer-bare-{run.name}", "peer-bare", run.full, run.quick) for run in RUNS if run.name == "notify-20k")

Reports = dict[str, dict]
Check = Callable[[Reports], tuple[str, bool | None]]


@dataclass(frozen=True)
class Budget:
    text: str
    run: str
    check: Check


def _get(reports: Reports, name: str) -> dict | None:
    return reports.get(name)


def _idle_memory(r: Reports) -> tuple[str, bool | None]:
    rep = _get(r, "idle-10k")
    if rep is None or rep["memory_per_stream_kib"] is None:
        return "not run", None
    return (
        f"{rep['memory_per_stream_kib']:.1f} KiB/stream ({rep['connected']:,} streams)",
        rep["memory_per_stream_kib"] <= 16 and rep["connected"] == rep["connections"],
    )


def _idle_connect(r: Reports) -> tuple[str, bool | None]:
    rep = _get(r, "idle-10k")
    if rep is None or rep["connect_seconds"] is None:
        return "not run", None
    return (
        f"{rep['connect_seconds']:.2f} s for {rep['connected']:,} ({rep['connect_rate']:,.0f}/s)",
        rep["connect_seconds"] <= 3 and rep["connected"] == rep["connections"],
    )


def _broadcast(r: Reports) -> tuple[str, bool | None]:
    rep = _get(r, "broadcast-1k")
    if rep is None:
        return "not run", None
    return (
        f"{rep['deliveries_per_second']:,.0f}/s to {rep['connected']:,} streams; server {_us(rep)} CPU per delivery",
        rep["deliveries_per_second"] >= 250_000 and rep["ok"],
    )


def _latency(name: str, limit: float, rate: float | None = None) -> Check:
    def check(r: Reports) -> tuple[str, bool | None]:
        rep = _get(r, name)
        if rep is None or not rep["latency_ms"]:
            return "not run", None
        p99 = rep["latency_ms"]["p99"]
        text = f"p99 {p99:.1f} ms, p50 {rep['latency_ms']['p50']:.1f} ms, {rep['publishes_per_second']:,.0f} publishes/s"
        met = p99 <= limit and rep["ok"] and (rate is None or rep["publishes_per_second"] >= 0.98 * rate)
        return text, met

    return check


def _storm(r: Reports) -> tuple[str, bool | None]:
    rep = _get(r, "storm-5k")
    if rep is None:
        return "not run", None
    v = rep["verification"]
    rejections = ", ".join(f"{k}: {n}" for k, n in rep["rejections"].items()) or "none"
    return (
        f"{rep['connected']:,} streams; lost {v['lost']}, duplicated {v['duplicated']}, missed before any id "
        f"{v.get('lost_unanchored', 0)} (inbox only); rejections {rejections}; "
        f"errors {rep['errors'] or 'none'}; {'; '.join(rep['notes'])}",
        rep["ok"],
    )


def _overhead(r: Reports) -> tuple[str, bool | None]:
    # Flags are checked per connect and per flag change, never per delivery: the delivery
    # path's observability is metrics and tracing, both on here against both off.
    # On: metrics and tracing with the default sampler (parent-based, 1 % of new traces); the
    # always-on sampler's cost is shown beside it.
    on, off = _get(r, "broadcast-1k-traced-default"), _get(r, "broadcast-1k-metrics-off")
    if on is None or off is None:
        return "not run", None
    throughput_cost = 1 - on["deliveries_per_second"] / off["deliveries_per_second"]
    cpu_on, cpu_off = on["server_cpu_us_per_delivery"], off["server_cpu_us_per_delivery"]
    cpu_text = f"; server CPU per delivery {cpu_on:.2f} vs {cpu_off:.2f} µs" if cpu_on and cpu_off else ""
    every = _get(r, "broadcast-1k-traced")
    every_text = (
        f"; every span exported (always_on): {1 - every['deliveries_per_second'] / off['deliveries_per_second']:+.1%}"
        if every is not None
        else ""
    )
    return (
        f"throughput {on['deliveries_per_second']:,.0f} vs {off['deliveries_per_second']:,.0f}/s "
        f"(cost {throughput_cost:+.1%}){cpu_text}{every_text}",
        throughput_cost <= 0.10,
    )


def _us(rep: dict) -> str:
    value = rep.get("server_cpu_us_per_delivery")
    return "-" if value is None else f"{value:.2f} µs"


BUDGETS = (
    Budget("10,000 idle streams, ≤ 16 KiB each above baseline", "idle-10k", _idle_memory),
    Budget("10,000 connects (JWT, flag, registration, `connected`) in ≤ 3 s", "idle-10k", _idle_connect),
    Budget("broadcast fan-out ≥ 250,000 deliveries/s to 1,000 streams", "broadcast-1k", _broadcast),
    Budget("1,000 streams × 10 events/s: p99 publish→receive ≤ 25 ms", "notify-1k-x10", _latency("notify-1k-x10", 25)),
    Budget("20,000 per-user publishes/s sustained (batch API), p99 ≤ 50 ms", "notify-20k", _latency("notify-20k", 50, 20_000)),
    Budget("storm of 5,000 reconnecting clients: only 429/503 + Retry-After, nothing lost", "storm-5k", _storm),
    Budget(
        "flags + metrics + tracing ≤ 10 % of delivery throughput (metrics + tracing with the default sampler on vs off)",
        "broadcast-1k-metrics-off",
        _overhead,
    ),
)
