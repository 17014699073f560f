"""A real Prometheus scrapes a running flagstream and evaluates the shipped rules and dashboard.

Traffic flows (streams, publishes, refused requests); then the Prometheus HTTP API is
asked the latency and error-ratio expressions the alerts use, every rule must evaluate
without error, every Grafana panel expression must run, and request durations must
arrive with the trace ids of their requests as exemplars (OpenMetrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability.tracing import OtelTracing
from tests.integration.live_traffic import traffic
from tests.support.inprocess import PUBLISH, Served, server_settings, serving
from tests.support.prometheus import prometheus_scraping

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "observability" / "prometheus" / "flagstream.rules.yml"
DASHBOARD = ROOT / "observability" / "grafana" / "flagstream.json"


def prometheus(target: str, workdir: Path):
    return prometheus_scraping([target], workdir, rule_files=[RULES], exemplars=True)


async def query(client: httpx.AsyncClient, api: str, expr: str) -> list[dict]:
    response = await client.get(f"{api}/api/v1/query", params={"query": expr})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]


async def value_of(client: httpx.AsyncClient, api: str, expr: str, until, timeout: float = 60.0) -> float:
    """Poll Prometheus until `expr` has one sample that satisfies `until`."""
    deadline = time.monotonic() + timeout
    last: list[dict] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            last = await query(client, api, expr)
            if len(last) == 1 and until(float(last[0]["value"][1])):
                return float(last[0]["value"][1])
        await asyncio.sleep(0.5)
    raise AssertionError(f"{expr} never satisfied the condition; last result: {last}")


@pytest.fixture
async def served(gate) -> AsyncIterator[Served]:
    async with serving(server_settings(broker="memory"), flag_gate=gate) as s:
        yield s


async def refused_requests(served: Served) -> None:
    """4xx answers a user would get: not errors for the SLO."""
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(f"{served.url}/v1/stream", headers={"Authorization": "Bearer not-a-token"})
        await client.post(
            f"{served.url}/v1/notifications",
            content=b"{",
            headers={"Authorization": f"Bearer {PUBLISH}", "Content-Type": "application/json"},
        )


async def test_prometheus_evaluates_the_slo_expressions_on_live_traffic(served: Served, tmp_path: Path) -> None:
    target = served.url.removeprefix("http://")
    with prometheus(target, tmp_path) as api:
        async with traffic(served), httpx.AsyncClient(timeout=10) as client:
            await refused_requests(served)
            up = await value_of(client, api, 'up{job="flagstream"}', lambda v: v == 1)
            assert up == 1
            delivered = await value_of(client, api, "flagstream:events_delivered:rate5m", lambda v: v > 0)
            assert delivered > 0
            # The latency SLI the alerts burn on: deliveries over 250 ms, as a share.
            slow = await value_of(client, api, "flagstream:delivery_latency_slow:ratio_rate5m", lambda v: v >= 0)
            assert slow < 0.01
            p99 = await value_of(client, api, "flagstream:delivery_latency_seconds:p99_rate5m", lambda v: v > 0)
            assert p99 < 0.25
            # The error SLI: requests flowed, 4xx and /metrics are not errors, so the ratio is a real 0.
            requests = await value_of(client, api, "flagstream:requests:rate5m", lambda v: v > 0)
            assert requests > 0
            assert await value_of(client, api, "flagstream:error:ratio_rate5m", lambda v: v >= 0) == 0
            four_xx = await query(client, api, 'sum(http_request_duration_seconds_count{status=~"4.."})')
            assert float(four_xx[0]["value"][1]) >= 2

            # No alert fires on healthy traffic, and every rule evaluates cleanly.
            rules = (await client.get(f"{api}/api/v1/rules")).json()["data"]["groups"]
            evaluated = [rule for group in rules for rule in group["rules"]]
            assert len(evaluated) >= 40
            broken = {rule["name"]: rule.get("lastError") for rule in evaluated if rule["health"] == "err"}
            assert broken == {}
            firing = [rule["name"] for rule in evaluated if rule.get("state") == "firing"]
            assert firing == []


async def test_every_grafana_panel_expression_runs_on_prometheus(served: Served, tmp_path: Path) -> None:
    target = served.url.removeprefix("http://")
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for row in dashboard["panels"] for p in [row, *row.get("panels", [])]]
    expressions = [t["expr"] for p in panels for t in p.get("targets", [])]
    with prometheus(target, tmp_path) as api:
        async with traffic(served), httpx.AsyncClient(timeout=10) as client:
            await value_of(client, api, "sum(rate(sse_events_delivered_total[1m]))", lambda v: v > 0)
            empty = []
            for expr in expressions:
                concrete = expr.replace("$__rate_interval", "1m").replace("$job", "flagstream").replace("$instance", ".*")
                if not await query(client, api, concrete):
                    empty.append(expr)
    # Every expression ran (query() checks the status). Some series only exist once something
    # happens that this healthy run never does: an error counted by stage, a real flag gate
    # evaluating (the test gate does not), the rollout controller (not running here).
    only_later = ("sse_errors_total", "flag_evaluations_total", "rollout_")
    unexplained = [expr for expr in empty if not any(name in expr for name in only_later)]
    assert unexplained == [], f"panels with no data from a live service: {unexplained}"
    assert len(empty) < len(expressions) / 4


async def test_request_durations_reach_prometheus_with_trace_id_exemplars(gate, tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with serving(server_settings(broker="memory"), flag_gate=gate, tracing=OtelTracing(provider)) as served:
        with prometheus(served.url.removeprefix("http://"), tmp_path) as api:
            async with traffic(served), httpx.AsyncClient(timeout=10) as client:
                await value_of(client, api, 'up{job="flagstream"}', lambda v: v == 1)
                deadline = time.monotonic() + 60
                exemplars: list[dict] = []
                while not exemplars and time.monotonic() < deadline:
                    now = time.time()
                    response = await client.get(
                        f"{api}/api/v1/query_exemplars",
                        params={
                            "query": 'http_request_duration_seconds_bucket{route="/v1/notifications"}',
                            "start": now - 300,
                            "end": now,
                        },
                    )
                    exemplars = [e for series in response.json()["data"] for e in series["exemplars"]]
                    await asyncio.sleep(0.5)
    assert exemplars, "Prometheus stored no exemplar for publish request durations"
    server_spans = {
        format(span.context.trace_id, "032x") for span in exporter.get_finished_spans() if span.name == "POST /v1/notifications"
    }
    assert exemplars[0]["labels"]["trace_id"] in server_spans
