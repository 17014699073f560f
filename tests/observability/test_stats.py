"""The rolling five-minute window behind /v1/admin/stats and the dashboard."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from observability.metrics import HubSnapshot, PrometheusMetrics
from observability.stats import RollingStats, StatsRecordingMetrics, latency_bucket, quantile


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rates_count_the_last_ten_complete_seconds():
    clock = Clock()
    stats = RollingStats(clock)
    for _ in range(10):
        stats.events_delivered(50, [0.002] * 50)
        stats.events_published("user", 5)
        clock.now += 1
    stats.events_delivered(1000, [])  # the current second is still filling: not in the rate
    summary = stats.summary()
    assert summary.delivered_per_second == 50
    assert summary.published_per_second == 5
    assert summary.delivered == 1500


def test_latency_quantiles_are_within_ten_percent():
    stats = RollingStats(Clock())
    stats.events_delivered(1000, [0.001] * 500 + [0.010] * 490 + [0.200] * 10)
    latency = stats.summary().latency_ms
    assert latency["p50"] == pytest.approx(1.0, rel=0.1)
    assert latency["p99"] == pytest.approx(10.0, rel=0.1)


def test_no_deliveries_means_no_latency_rather_than_zero():
    assert RollingStats(Clock()).summary().latency_ms == {"p50": None, "p99": None}
    assert quantile([0, 0, 0], 0.5) is None


def test_buckets_cover_sub_millisecond_to_a_minute():
    assert latency_bucket(0) == 0
    assert latency_bucket(0.0005) < latency_bucket(0.001) < latency_bucket(1.0) < latency_bucket(60)
    assert latency_bucket(3600) == latency_bucket(61)


def test_events_older_than_the_window_are_forgotten():
    clock = Clock()
    stats = RollingStats(clock, window_seconds=300)
    stats.error("publish")
    stats.connection_closed("overflow")
    stats.flag_evaluated("sse-delivery", "enabled")
    clock.now += 299
    summary = stats.summary()
    assert summary.errors == {"publish": 1}
    assert summary.closed["overflow"] == 1
    assert summary.evaluations["enabled"] == 1
    clock.now += 2
    summary = stats.summary()
    assert summary.errors == {}
    assert summary.closed["overflow"] == 0
    assert summary.evaluations == {"enabled": 0, "disabled": 0, "fallback": 0}


def test_series_has_one_point_per_second_with_sampled_gauges():
    clock = Clock()
    stats = RollingStats(clock)
    stats.watch_hub(lambda: HubSnapshot(connections=7, users=3, users_by_connection_count={}))
    stats.sample()
    stats.events_delivered(2, [0.004, 0.004])
    clock.now += 1
    stats.sample()
    clock.now += 1
    series = stats.series()
    assert series["t"] == [1_000_000, 1_000_001]
    assert series["connections"] == [7, 7]
    assert series["delivered"] == [2, 0]
    assert series["p99_ms"][0] == pytest.approx(4.0, rel=0.1)
    assert series["p99_ms"][1] is None
    assert series["rss_bytes"][0] > 1_000_000
    assert stats.process()["rss_bytes"] > 1_000_000


def test_recording_metrics_feed_prometheus_and_the_window_alike():
    registry = CollectorRegistry()
    stats = RollingStats(Clock())
    metrics = StatsRecordingMetrics(PrometheusMetrics(registry, process_metrics=False), stats)
    metrics.connection_opened()
    metrics.connection_rejected("global_limit")
    metrics.events_delivered(3, [0.001, 0.002, 0.003])
    metrics.error("lease")
    assert registry.get_sample_value("sse_events_delivered_total") == 3
    assert registry.get_sample_value("sse_connections_rejected_total", {"reason": "global_limit"}) == 1
    summary = stats.summary()
    assert (summary.delivered, summary.opened, summary.errors) == (3, 1, {"lease": 1})
    assert summary.rejected["global_limit"] == 1
    assert b"sse_events_delivered_total 3.0" in metrics.exposition()[0]


def test_series_reports_a_quiet_stretch_as_zero_deliveries_and_unknown_gauges():
    """A stalled sampler leaves seconds without a slot: counters were truly zero, gauges unknown."""
    clock = Clock()
    stats = RollingStats(clock)
    stats.watch_hub(lambda: HubSnapshot(connections=4, users=2, users_by_connection_count={}))
    stats.sample()
    stats.events_delivered(3, [0.002] * 3)
    clock.now += 5  # four seconds with no event and no sample
    stats.sample()
    clock.now += 1
    series = stats.series()
    assert series["t"] == list(range(1_000_000, 1_000_006))
    assert series["delivered"] == [3, 0, 0, 0, 0, 0]
    assert series["connections"] == [4, None, None, None, None, 4]
    assert series["cpu_percent"][1:5] == [None] * 4


def test_series_starts_when_the_stats_started():
    clock = Clock()
    stats = RollingStats(clock)
    clock.now += 3
    assert stats.series()["t"] == [1_000_000, 1_000_001, 1_000_002]


def test_recording_metrics_forward_every_metrics_event_by_name_not_by_getattr():
    from observability.types import Metrics

    events = {name for name in vars(Metrics) if not name.startswith("_")}
    assert events <= set(vars(StatsRecordingMetrics)), events - set(vars(StatsRecordingMetrics))
    assert "__getattr__" not in vars(StatsRecordingMetrics)
