"""sse_connections_limit and flag_client_fresh are read at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from observability.service_gauges import watch_service


def test_limit_and_flag_freshness_follow_the_service():
    fresh = True
    registry = CollectorRegistry()
    watch_service(registry, connections_limit=20000, flags_fresh=lambda: fresh)
    assert registry.get_sample_value("sse_connections_limit") == 20000
    assert registry.get_sample_value("flag_client_fresh") == 1
    fresh = False
    assert registry.get_sample_value("flag_client_fresh") == 0
