"""Metric sources against real HTTP: the service's exposition scraped, and a real Prometheus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from observability.metrics import PrometheusMetrics
from rollout.sources import PrometheusSource, ScrapeSource
from rollout.types import RolloutError
from tests.rollout.http_fixtures import text_server
from tests.rollout.rollout_support import FakeClock
from tests.support.prometheus import prometheus_scraping


def service_metrics() -> PrometheusMetrics:
    return PrometheusMetrics(CollectorRegistry(), process_metrics=False)


async def test_the_scrape_source_measures_what_happened_since_the_last_check():
    metrics, clock = service_metrics(), FakeClock()
    metrics.events_delivered(500, [0.001] * 500)  # before the baseline: not counted
    with text_server(lambda: generate_latest(metrics.registry).decode()) as url:
        source = ScrapeSource([url], clock)
        await source.start()
        clock.advance(30)
        metrics.events_delivered(200, [0.004] * 196 + [0.6, 0.7, 0.8, 0.9])
        metrics.events_published("user", 100)
        metrics.error("publish")
        metrics.connection_opened()
        metrics.connection_rejected("user_limit")
        metrics.connection_rejected("not_in_rollout")
        metrics.connection_closed("overflow")
        sample = await source.sample(30, {})
        await source.close()
    assert sample.window_seconds == 30
    assert (sample.delivered, sample.latency_count, sample.published, sample.errors) == (200, 200, 100, 1)
    assert (sample.connection_attempts, sample.rejected_by_health, sample.rejected_user_limit) == (3, 1, 1)
    assert sample.overflow_disconnects == 1
    assert 0.0025 < sample.latency_p50 <= 0.005 and 0.5 < sample.latency_p99 <= 1.0


async def test_several_instances_are_added_up():
    a, b, clock = service_metrics(), service_metrics(), FakeClock()
    with (
        text_server(lambda: generate_latest(a.registry).decode()) as url_a,
        text_server(lambda: generate_latest(b.registry).decode()) as url_b,
    ):
        source = ScrapeSource([url_a, url_b], clock)
        await source.start()
        clock.advance(10)
        a.events_delivered(3, [])
        b.events_delivered(4, [])
        sample = await source.sample(10, {})
        await source.close()
    assert sample.delivered == 7


async def test_without_a_baseline_there_is_no_window():
    metrics = service_metrics()
    with text_server(lambda: generate_latest(metrics.registry).decode()) as url:
        source = ScrapeSource([url], FakeClock())
        assert await source.sample(60, {}) is None
        await source.close()


async def test_an_unreachable_or_refusing_endpoint_is_one_clear_error():
    source = ScrapeSource(["http://127.0.0.1:1/metrics"], FakeClock())
    with pytest.raises(RolloutError, match=r"cannot scrape http://127.0.0.1:1/metrics: ConnectError"):
        await source.start()
    await source.close()
    with text_server(lambda: "nope", status=401) as url:
        source = ScrapeSource([url], FakeClock())
        with pytest.raises(RolloutError, match="HTTP 401"):
            await source.start()
        await source.close()


@pytest.mark.prometheus
@pytest.mark.slow
async def test_the_prometheus_source_reads_the_same_measures_from_a_real_prometheus(tmp_path: Path):
    metrics = service_metrics()
    with text_server(lambda: generate_latest(metrics.registry).decode()) as url:
        target = url.removeprefix("http://").removesuffix("/metrics")
        with prometheus_scraping([target], tmp_path) as prometheus_url:
            source = PrometheusSource(prometheus_url)
            try:
                deadline = asyncio.get_running_loop().time() + 60
                sample = None
                while sample is None or sample.delivered < 100:
                    assert asyncio.get_running_loop().time() < deadline, f"Prometheus never saw the traffic: {sample}"
                    metrics.events_delivered(10, [0.004] * 10)
                    metrics.connection_closed("overflow")
                    await asyncio.sleep(0.2)
                    sample = await source.sample(30, {"up": 'up{job="flagstream"}'})
            finally:
                await source.close()
    assert sample.overflow_disconnects > 0 and sample.queries == {"up": 1.0}
    assert 0.0025 < sample.latency_p99 <= 0.005


async def test_prometheus_refusing_a_query_is_one_clear_error():
    with text_server(lambda: '{"status": "error", "error": "parse error"}', status=400) as url:
        source = PrometheusSource(url.removesuffix("/metrics"))
        with pytest.raises(RolloutError, match=r"Prometheus refused .rate\(x.: parse error"):
            await source.query("rate(x")
        await source.close()
