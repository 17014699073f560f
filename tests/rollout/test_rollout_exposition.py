"""Parsing what the service's /metrics serves, differencing scrapes, and histogram quantiles."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from observability.exposition import ExpositionError, histogram_quantile, merge_scrapes, parse_exposition
from observability.metrics import PrometheusMetrics


def service_text(metrics: PrometheusMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_increase_since_is_what_happened_between_two_scrapes():
    metrics = PrometheusMetrics(CollectorRegistry(), process_metrics=False)
    metrics.events_delivered(10, [0.002] * 10)
    metrics.connection_closed("overflow")
    before = parse_exposition(service_text(metrics))
    metrics.events_delivered(100, [0.004] * 99 + [0.3])
    metrics.connection_closed("overflow")
    metrics.connection_closed("overflow")
    metrics.connection_rejected("user_limit")
    window = parse_exposition(service_text(metrics)).increase_since(before)
    assert window.value("sse_events_delivered_total") == 100
    assert window.value("sse_connections_closed_total", reason="overflow") == 2
    assert window.value("sse_connections_closed_total") == 2
    assert window.value("sse_connections_rejected_total", reason="user_limit") == 1
    assert window.value("sse_delivery_latency_seconds_count") == 100
    buckets = window.buckets("sse_delivery_latency_seconds")
    assert buckets[-1] == (float("inf"), 100)
    assert 0.0025 < histogram_quantile(0.5, buckets) <= 0.005
    assert 0.25 < histogram_quantile(0.995, buckets) <= 0.5


def test_a_counter_going_down_means_the_window_is_unknown():
    metrics = PrometheusMetrics(CollectorRegistry(), process_metrics=False)
    metrics.events_delivered(10, [])
    before = parse_exposition(service_text(metrics))
    restarted = PrometheusMetrics(CollectorRegistry(), process_metrics=False)
    restarted.events_delivered(3, [])
    assert parse_exposition(service_text(restarted)).increase_since(before) is None


def test_gauges_are_read_as_they_are_now():
    text = "# TYPE sse_connections gauge\nsse_connections 7\n"
    before = parse_exposition("# TYPE sse_connections gauge\nsse_connections 9\n")
    assert parse_exposition(text).increase_since(before).value("sse_connections") == 7


def test_instances_are_summed():
    a = parse_exposition("# TYPE sse_events_delivered counter\nsse_events_delivered_total 5\n")
    b = parse_exposition("# TYPE sse_events_delivered counter\nsse_events_delivered_total 7\n")
    assert merge_scrapes([a, b]).value("sse_events_delivered_total") == 12


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(1.0, 0), (2.0, 10), (float("inf"), 10)], 1.5),
        (0.99, [(0.1, 50), (0.2, 100), (float("inf"), 100)], 0.198),
        (0.99, [(0.1, 0), (float("inf"), 10)], 0.1),  # in the +Inf bucket: the highest finite bound
        (0.5, [(0.1, 0), (float("inf"), 0)], None),  # nothing observed
        (0.5, [], None),
    ],
)
def test_histogram_quantile_matches_prometheus(q, buckets, expected):
    assert histogram_quantile(q, buckets) == (pytest.approx(expected) if expected is not None else None)


def test_text_that_is_not_exposition_is_one_clear_error():
    with pytest.raises(ExpositionError, match="not Prometheus text exposition"):
        parse_exposition("<html>login</html>\n")
