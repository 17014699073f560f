"""The shipped Grafana dashboard only asks for series the service (or its rollout controller) exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from observability.http_metrics import HttpMetricsMiddleware
from observability.metrics import HubSnapshot, PrometheusMetrics
from observability.service_gauges import watch_service

DASHBOARD = Path(__file__).resolve().parents[2] / "observability" / "grafana" / "flagstream.json"
# Exported by `flagstream rollout watch` on its own port (API.md metrics table).
ROLLOUT_CONTROLLER_METRICS = {"rollout_phase", "rollout_percentage"}
PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "vector",
    "offset",
    "bool",
    "label_values",
    "abs",
    "clamp_min",
    "clamp_max",
    "topk",
    "bottomk",
    "time",
    "scalar",
}


def service_metric_names() -> set[str]:
    """Every sample name a running instance serves on /metrics."""
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.watch_hub(lambda: HubSnapshot(0, 0, {}))
    HttpMetricsMiddleware(lambda *a: None, registry=registry, route_of=lambda m, p: None)
    watch_service(registry, connections_limit=10, flags_fresh=lambda: True)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside labels, ranges and grouping clauses."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        following = text[match.end() :].lstrip()[:1]
        if word in PROMQL_WORDS or following == "(":
            continue
        names.add(word)
    return names


def all_panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_the_name_extractor_finds_metrics_and_nothing_else():
    expr = 'sum by (route, le) (rate(http_request_duration_seconds_bucket{route!~"a|b", job=~"$job"}[$__rate_interval])) / on (job) process_max_fds'
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "process_max_fds"}


def test_every_expression_references_only_exported_metrics(dashboard):
    exported = service_metric_names() | ROLLOUT_CONTROLLER_METRICS
    expressions = [t["expr"] for p in all_panels(dashboard["panels"]) for t in p.get("targets", [])]
    assert len(expressions) >= 20
    unknown = {name: expr for expr in expressions for name in metric_names(expr) if name not in exported}
    assert unknown == {}, f"the dashboard asks for series nobody exports: {unknown}"
    templated = [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    variable_metrics = {re.match(r"label_values\((\w+)", d).group(1) for d in templated}
    assert variable_metrics <= exported


def test_it_covers_red_use_and_the_rollout(dashboard):
    used = set().union(*(metric_names(t["expr"]) for p in all_panels(dashboard["panels"]) for t in p.get("targets", [])))
    assert {"sse_events_delivered_total", "sse_delivery_latency_seconds_bucket", "http_request_duration_seconds_count"} <= used
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"} <= used
    assert {"rollout_phase", "rollout_percentage", "flag_evaluations_total", "flag_client_fresh"} <= used


def test_panels_have_unique_ids_titles_and_fit_the_grid(dashboard):
    panels = list(all_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["title"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
    assert dashboard["uid"] == "flagstream"
