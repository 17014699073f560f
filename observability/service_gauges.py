"""Gauges read at scrape time from the running service: its connection limit and flag freshness.

``sse_connections_limit`` lets the saturation alert compare ``sse_connections`` with
``MAX_CONNECTIONS`` without knowing the setting; ``flag_client_fresh`` is 1 while the last
flag refresh succeeded and 0 while the service serves a stale last-known state;
``flag_client_outages_total`` counts outages (a recovery is the end of one).

Example::

    watch_service(registry, connections_limit=settings.max_connections,
                  flags_fresh=lambda: gate.health().freshness is FlagFreshness.FRESH)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["watch_service"]


class _ServiceCollector(Collector):
    def __init__(self, connections_limit: int, flags_fresh: Callable[[], bool], flag_outages: Callable[[], int] | None) -> None:
        self._connections_limit = connections_limit
        self._flags_fresh = flags_fresh
        self._flag_outages = flag_outages

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("sse_connections_limit", "MAX_CONNECTIONS of this instance.", value=self._connections_limit)
        yield GaugeMetricFamily(
            "flag_client_fresh",
            "1 while the last feature-flag refresh succeeded, 0 while serving a stale last-known state.",
            value=1 if self._flags_fresh() else 0,
        )
        if self._flag_outages is not None:
            yield CounterMetricFamily(
                "flag_client_outages",
                "Flag refresh outages since start (a run of failed refreshes counts once).",
                value=self._flag_outages(),
            )


def watch_service(
    registry: CollectorRegistry,
    *,
    connections_limit: int,
    flags_fresh: Callable[[], bool],
    flag_outages: Callable[[], int] | None = None,
) -> None:
    """Export the gauges on ``registry``; the callables are called on every scrape."""
    registry.register(_ServiceCollector(connections_limit, flags_fresh, flag_outages))
