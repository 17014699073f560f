"""Delivery metrics as domain events.

The service reports what happened (``connection_opened``, ``events_delivered``…);
this module decides how that becomes Prometheus series. It is the only place that
imports ``prometheus_client``. The registry is injected so tests use a fresh one.

Example::

    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.connection_opened()
    metrics.events_delivered(3, [0.002, 0.003, 0.004])
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .http_metrics import HttpMetricsMiddleware
from .openmetrics import render_metrics
from .service_gauges import watch_service
from .types import (
    CLOSE_REASONS,
    CONNECTION_BUCKETS,
    ERROR_STAGES,
    PUBLISH_KINDS,
    PUBLISH_REJECT_REASONS,
    RECONNECT_KINDS,
    REJECT_REASONS,
    ASGIApp,
    HubSnapshot,
    Metrics,
    RouteOf,
    Tracing,
)

STREAM_ROUTE = "/v1/stream"  # its HTTP duration is reported by the stream endpoint (`stream_started`)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
__all__ = ["HubSnapshot", "LATENCY_BUCKETS", "LatencyHistogram", "Metrics", "NoopMetrics", "PrometheusMetrics"]


class NoopMetrics:
    """Metrics switched off: every event is dropped (used by benchmarks and unit tests)."""

    def connection_opened(self) -> None:
        pass

    def connection_closed(self, reason: str) -> None:
        pass

    def connection_rejected(self, reason: str) -> None:
        pass

    def reconnected(self, kind: str) -> None:
        pass

    def events_published(self, kind: str, count: int) -> None:
        pass

    def publish_rejected(self, reason: str) -> None:
        pass

    def events_delivered(self, count: int, latencies: Sequence[float]) -> None:
        pass

    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        pass

    def events_replayed(self, count: int) -> None:
        pass

    def error(self, stage: str) -> None:
        pass

    def flag_evaluated(self, flag: str, result: str) -> None:
        pass

    def stream_started(self, status: int, seconds: float) -> None:
        pass

    def watch_hub(self, snapshot: Callable[[], HubSnapshot]) -> None:
        pass

    def watch_service(
        self, *, connections_limit: int, flags_fresh: Callable[[], bool], flag_outages: Callable[[], int] | None = None
    ) -> None:
        pass

    def instrument_http(self, app: ASGIApp, *, route_of: RouteOf, tracing: Tracing) -> ASGIApp:
        return app

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        return b"", CONTENT_TYPE_LATEST


class _HubCollector(Collector):
    def __init__(self, snapshot: Callable[[], HubSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[GaugeMetricFamily]:
        snap = self._snapshot()
        yield GaugeMetricFamily("sse_connections", "Open SSE streams on this instance.", value=snap.connections)
        yield GaugeMetricFamily("sse_users_connected", "Users with at least one open stream.", value=snap.users)
        by_count = GaugeMetricFamily(
            "sse_users_by_connection_count", "Users by how many streams they hold.", labels=["connections"]
        )
        for bucket in CONNECTION_BUCKETS:
            by_count.add_metric([bucket], snap.users_by_connection_count.get(bucket, 0))
        yield by_count


class LatencyHistogram(Collector):
    """`sse_delivery_latency_seconds`, observed a whole write batch at a time.

    prometheus_client's Histogram takes a lock and scans the buckets for every value;
    a broadcast batch delivers hundreds of events per write, and that per-value cost
    was ~40 % of the server's CPU in the broadcast benchmark (benchmarks/RESULTS.md).
    Here a batch costs one bisect per value into plain ints: the service observes
    from its event loop only, and a scrape reads between two batches.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = list(buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0

    def observe_many(self, values: Sequence[float]) -> None:
        counts, bounds = self._counts, self._bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1
        self._sum += sum(values)

    def observe_runs(self, runs: Sequence[tuple[float, int]]) -> None:
        """(value, how many times) pairs: one bisect per run."""
        counts, bounds = self._counts, self._bounds
        total = 0.0
        for value, times in runs:
            counts[bisect_left(bounds, value)] += times
            total += value * times
        self._sum += total

    def collect(self) -> Iterable[HistogramMetricFamily]:
        cumulative, running = [], 0
        for bound, count in zip([*map(floatToGoString, self._bounds), "+Inf"], self._counts):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(self._name, self._documentation, buckets=cumulative, sum_value=self._sum)


class PrometheusMetrics:
    """Prometheus implementation of :class:`Metrics`; label children are bound once."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self._opened = Counter("sse_connections_opened", "SSE streams opened.", registry=r)
        closed = Counter("sse_connections_closed", "SSE streams closed, by reason.", ["reason"], registry=r)
        self._closed = {reason: closed.labels(reason) for reason in CLOSE_REASONS}
        rejected = Counter("sse_connections_rejected", "SSE stream requests refused, by reason.", ["reason"], registry=r)
        self._rejected = {reason: rejected.labels(reason) for reason in REJECT_REASONS}
        reconnects = Counter(
            "sse_reconnects",
            "Streams that are reconnects: resumed with Last-Event-ID, or a user's repeat soon after their stream ended here.",
            ["kind"],
            registry=r,
        )
        self._reconnects = {kind: reconnects.labels(kind) for kind in RECONNECT_KINDS}
        published = Counter("sse_events_published", "Notifications accepted, by kind.", ["kind"], registry=r)
        self._published = {kind: published.labels(kind) for kind in PUBLISH_KINDS}
        publish_rejected = Counter("sse_publish_rejected", "Publish requests refused, by reason.", ["reason"], registry=r)
        self._publish_rejected = {reason: publish_rejected.labels(reason) for reason in PUBLISH_REJECT_REASONS}
        self._delivered = Counter("sse_events_delivered", "Events written to SSE streams.", registry=r)
        self._latency = LatencyHistogram(
            "sse_delivery_latency_seconds", "Publish accepted to written to the socket.", LATENCY_BUCKETS
        )
        r.register(self._latency)
        self._replayed = Counter("sse_events_replayed", "Events replayed after Last-Event-ID.", registry=r)
        self._http: HttpMetricsMiddleware | None = None  # set by instrument_http
        self._errors = Counter("sse_errors", "Errors, by stage.", ["stage"], registry=r)
        for stage in ERROR_STAGES:  # exported at zero, so rates and alerts have a series
            self._errors.labels(stage)
        self._flag_evaluations = Counter(
            "flag_evaluations", "Rollout flag evaluations, by flag and result.", ["flag", "result"], registry=r
        )

    def connection_opened(self) -> None:
        self._opened.inc()

    def connection_closed(self, reason: str) -> None:
        self._closed[reason].inc()

    def reconnected(self, kind: str) -> None:
        self._reconnects[kind].inc()

    def connection_rejected(self, reason: str) -> None:
        self._rejected[reason].inc()

    def events_published(self, kind: str, count: int) -> None:
        self._published[kind].inc(count)

    def publish_rejected(self, reason: str) -> None:
        self._publish_rejected[reason].inc()

    def events_delivered(self, count: int, latencies: Sequence[float]) -> None:
        self._delivered.inc(count)
        self._latency.observe_many(latencies)

    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        self._delivered.inc(count)
        self._latency.observe_runs(runs)

    def events_replayed(self, count: int) -> None:
        self._replayed.inc(count)

    def error(self, stage: str) -> None:
        self._errors.labels(stage).inc()

    def flag_evaluated(self, flag: str, result: str) -> None:
        self._flag_evaluations.labels(flag, result).inc()

    def stream_started(self, status: int, seconds: float) -> None:
        if self._http is not None:
            self._http.observe(STREAM_ROUTE, "GET", status, seconds, None)

    def watch_hub(self, snapshot: Callable[[], HubSnapshot]) -> None:
        self.registry.register(_HubCollector(snapshot))

    def watch_service(
        self, *, connections_limit: int, flags_fresh: Callable[[], bool], flag_outages: Callable[[], int] | None = None
    ) -> None:
        watch_service(self.registry, connections_limit=connections_limit, flags_fresh=flags_fresh, flag_outages=flag_outages)

    def instrument_http(self, app: ASGIApp, *, route_of: RouteOf, tracing: Tracing) -> ASGIApp:
        self._http = HttpMetricsMiddleware(app, registry=self.registry, route_of=route_of, tracing=tracing)
        return self._http

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The classic text format, or OpenMetrics (with exemplars) when ``accept`` asks for it."""
        return render_metrics(self.registry, accept)
