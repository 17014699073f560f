"""The last five minutes of this instance, for `/v1/admin/stats` and the live dashboard.

Fed by the same domain events as the Prometheus metrics (:class:`StatsRecordingMetrics`
forwards each event to both), kept in one slot per second in a ring: a slot is reused
when its second comes round again, so memory is fixed and nothing ever needs pruning.
Gauges that no event reports (streams, users, CPU, memory) are sampled once a second.

Latencies go into log-spaced buckets (20 % apart, 0.1 ms to 60 s) so that any set of
seconds can be merged and read as p50/p99 within about 10 %, which is what a person
reading a dashboard needs; Prometheus keeps the exact SLO buckets.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from .types import CLOSE_REASONS, FLAG_RESULTS, REJECT_REASONS, ASGIApp, HubSnapshot, Metrics, RouteOf, Tracing

WINDOW_SECONDS = 300
RATE_SECONDS = 10
_SMALLEST = 0.0001
_GROWTH = 1.2
_BUCKETS = math.ceil(math.log(60 / _SMALLEST) / math.log(_GROWTH)) + 1
# Upper bounds of every bucket but the last, which takes everything above them.
_BOUNDS = tuple(_SMALLEST * _GROWTH**i for i in range(_BUCKETS - 1))


def latency_bucket(seconds: float) -> int:
    return bisect_left(_BOUNDS, seconds)


def bucket_middle(index: int) -> float:
    """Geometric middle of a bucket: at most ~10 % from any value that fell in it."""
    upper = _SMALLEST * _GROWTH**index
    return upper if index == 0 else upper / math.sqrt(_GROWTH)


def quantile(counts: Sequence[int], q: float) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return bucket_middle(index)
    return bucket_middle(len(counts) - 1)


@dataclass(slots=True)
class _Second:
    """What happened during one wall-clock second."""

    at: int = -1
    delivered: int = 0
    published: int = 0
    replayed: int = 0
    opened: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    evaluations: dict[str, int] = field(default_factory=dict)
    latency: list[int] | None = None
    connections: int | None = None
    users: int | None = None
    cpu_percent: float | None = None
    rss_bytes: int | None = None

    def reset(self, at: int) -> None:
        self.at = at
        self.delivered = self.published = self.replayed = self.opened = 0
        self.errors, self.closed, self.rejected, self.evaluations = {}, {}, {}, {}
        self.latency = None
        self.connections = self.users = None
        self.cpu_percent = self.rss_bytes = None


@dataclass(frozen=True)
class WindowSummary:
    """Totals over the window, rates over the last complete seconds, latency quantiles in ms."""

    window_seconds: int
    rate_seconds: int
    delivered: int
    published: int
    replayed: int
    opened: int
    delivered_per_second: float
    published_per_second: float
    errors_per_second: float
    latency_ms: dict[str, float | None]
    errors: dict[str, int]
    closed: dict[str, int]
    rejected: dict[str, int]
    evaluations: dict[str, int]

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


class RollingStats:
    """The rolling window; every method is called on the event loop, so no locks."""

    def __init__(self, clock: Callable[[], float] = time.time, window_seconds: int = WINDOW_SECONDS) -> None:
        self._clock = clock
        self._window = window_seconds
        self._ring = [_Second() for _ in range(window_seconds)]
        self._since = int(clock())
        self._hub: Callable[[], HubSnapshot] | None = None
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first reading only starts the measurement

    def _now(self) -> _Second:
        second = int(self._clock())
        slot = self._ring[second % self._window]
        if slot.at != second:
            slot.reset(second)
        return slot

    # -- domain events (the Metrics protocol) -------------------------------------------
    def connection_opened(self) -> None:
        self._now().opened += 1

    def connection_closed(self, reason: str) -> None:
        closed = self._now().closed
        closed[reason] = closed.get(reason, 0) + 1

    def connection_rejected(self, reason: str) -> None:
        rejected = self._now().rejected
        rejected[reason] = rejected.get(reason, 0) + 1

    def events_published(self, kind: str, count: int) -> None:
        self._now().published += count

    def events_delivered(self, count: int, latencies: Sequence[float]) -> None:
        slot = self._now()
        slot.delivered += count
        counts = slot.latency
        if counts is None:
            counts = slot.latency = [0] * _BUCKETS
        bounds = _BOUNDS
        for seconds in latencies:
            counts[bisect_left(bounds, seconds)] += 1

    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        slot = self._now()
        slot.delivered += count
        counts = slot.latency
        if counts is None:
            counts = slot.latency = [0] * _BUCKETS
        bounds = _BOUNDS
        for seconds, times in runs:
            counts[bisect_left(bounds, seconds)] += times

    def events_replayed(self, count: int) -> None:
        self._now().replayed += count

    def error(self, stage: str) -> None:
        errors = self._now().errors
        errors[stage] = errors.get(stage, 0) + 1

    def flag_evaluated(self, flag: str, result: str) -> None:
        evaluations = self._now().evaluations
        evaluations[result] = evaluations.get(result, 0) + 1

    def watch_hub(self, snapshot: Callable[[], HubSnapshot]) -> None:
        self._hub = snapshot

    # -- sampling and reading ------------------------------------------------------------
    def sample(self) -> None:
        """Record the gauges into this second (called once a second by the stats sampler)."""
        slot = self._now()
        if self._hub is not None:
            snapshot = self._hub()
            slot.connections, slot.users = snapshot.connections, snapshot.users
        slot.cpu_percent = self._process.cpu_percent(None)
        slot.rss_bytes = self._process.memory_info().rss

    def _seconds(self, count: int, include_current: bool = False) -> Iterable[_Second]:
        now = int(self._clock())
        newest = now if include_current else now - 1
        for second in range(newest - count + 1, newest + 1):
            slot = self._ring[second % self._window]
            if slot.at == second:
                yield slot

    def summary(self) -> WindowSummary:
        window = list(self._seconds(self._window, include_current=True))
        recent = list(self._seconds(RATE_SECONDS))
        latency = [0] * _BUCKETS
        for slot in window:
            if slot.latency is not None:
                latency = [a + b for a, b in zip(latency, slot.latency)]
        p50, p99 = quantile(latency, 0.50), quantile(latency, 0.99)
        return WindowSummary(
            window_seconds=self._window,
            rate_seconds=RATE_SECONDS,
            delivered=sum(s.delivered for s in window),
            published=sum(s.published for s in window),
            replayed=sum(s.replayed for s in window),
            opened=sum(s.opened for s in window),
            delivered_per_second=sum(s.delivered for s in recent) / RATE_SECONDS,
            published_per_second=sum(s.published for s in recent) / RATE_SECONDS,
            errors_per_second=sum(sum(s.errors.values()) for s in recent) / RATE_SECONDS,
            latency_ms={"p50": _ms(p50), "p99": _ms(p99)},
            errors=_add(s.errors for s in window),
            closed=_add((s.closed for s in window), CLOSE_REASONS),
            rejected=_add((s.rejected for s in window), REJECT_REASONS),
            evaluations=_add((s.evaluations for s in window), FLAG_RESULTS),
        )

    def series(self, seconds: int | None = None) -> dict[str, list[Any]]:
        """One point per complete second since the stats started, oldest first, for the charts.

        A second without a slot (no event, and the sampler did not run: a stalled loop) is
        still a point: its counters were truly zero, its gauges are unknown (None), so a
        chart draws a gap there rather than a slope across it.
        """
        seconds = self._window if seconds is None else min(seconds, self._window)
        newest = int(self._clock()) - 1
        points: dict[str, list[Any]] = {name: [] for name in _SERIES}
        for second in range(max(newest - seconds + 1, self._since), newest + 1):
            slot = self._ring[second % self._window]
            if slot.at != second:
                slot = _Second(at=second)
            points["t"].append(second)
            points["delivered"].append(slot.delivered)
            points["errors"].append(sum(slot.errors.values()))
            points["overflow"].append(slot.closed.get("overflow", 0))
            points["p50_ms"].append(_ms(quantile(slot.latency, 0.50)) if slot.latency else None)
            points["p99_ms"].append(_ms(quantile(slot.latency, 0.99)) if slot.latency else None)
            points["connections"].append(slot.connections)
            points["users"].append(slot.users)
            points["cpu_percent"].append(slot.cpu_percent)
            points["rss_bytes"].append(slot.rss_bytes)
        return points

    def process(self) -> dict[str, float | int | None]:
        """The latest sampled CPU and memory of this process."""
        for slot in reversed(list(self._seconds(5, include_current=True))):
            if slot.rss_bytes is not None:
                return {"cpu_percent": slot.cpu_percent, "rss_bytes": slot.rss_bytes}
        return {"cpu_percent": None, "rss_bytes": self._process.memory_info().rss}


_SERIES = ("t", "delivered", "errors", "overflow", "p50_ms", "p99_ms", "connections", "users", "cpu_percent", "rss_bytes")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _add(counters: Iterable[dict[str, int]], always: Iterable[str] = ()) -> dict[str, int]:
    total = dict.fromkeys(always, 0)
    for counter in counters:
        for key, value in counter.items():
            total[key] = total.get(key, 0) + value
    return total


class StatsRecordingMetrics:
    """A :class:`~observability.metrics.Metrics` that reports every event to the real metrics and to the stats."""

    def __init__(self, metrics: Metrics, stats: RollingStats) -> None:
        self.metrics = metrics
        self.stats = stats

    def connection_opened(self) -> None:
        self.metrics.connection_opened()
        self.stats.connection_opened()

    def connection_closed(self, reason: str) -> None:
        self.metrics.connection_closed(reason)
        self.stats.connection_closed(reason)

    def reconnected(self, kind: str) -> None:
        self.metrics.reconnected(kind)

    def connection_rejected(self, reason: str) -> None:
        self.metrics.connection_rejected(reason)
        self.stats.connection_rejected(reason)

    def events_published(self, kind: str, count: int) -> None:
        self.metrics.events_published(kind, count)
        self.stats.events_published(kind, count)

    def publish_rejected(self, reason: str) -> None:
        self.metrics.publish_rejected(reason)

    def events_delivered(self, count: int, latencies: Sequence[float]) -> None:
        self.metrics.events_delivered(count, latencies)
        self.stats.events_delivered(count, latencies)

    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        self.metrics.events_delivered_runs(count, runs)
        self.stats.events_delivered_runs(count, runs)

    def events_replayed(self, count: int) -> None:
        self.metrics.events_replayed(count)
        self.stats.events_replayed(count)

    def error(self, stage: str) -> None:
        self.metrics.error(stage)
        self.stats.error(stage)

    def flag_evaluated(self, flag: str, result: str) -> None:
        self.metrics.flag_evaluated(flag, result)
        self.stats.flag_evaluated(flag, result)

    def stream_started(self, status: int, seconds: float) -> None:
        self.metrics.stream_started(status, seconds)

    def watch_hub(self, snapshot: Callable[[], HubSnapshot]) -> None:
        self.metrics.watch_hub(snapshot)
        self.stats.watch_hub(snapshot)

    def watch_service(
        self, *, connections_limit: int, flags_fresh: Callable[[], bool], flag_outages: Callable[[], int] | None = None
    ) -> None:
        self.metrics.watch_service(connections_limit=connections_limit, flags_fresh=flags_fresh, flag_outages=flag_outages)

    def instrument_http(self, app: ASGIApp, *, route_of: RouteOf, tracing: Tracing) -> ASGIApp:
        return self.metrics.instrument_http(app, route_of=route_of, tracing=tracing)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        return self.metrics.exposition(accept)
