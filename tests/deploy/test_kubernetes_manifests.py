"""deploy/kubernetes/: validated against a recent Kubernetes schema (kubernetes-validate,
strict: unknown fields fail), the custom resources structurally (crd_schemas.py), and the
settings that make a rolling restart lose nothing checked against each other."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sse_service.config import load_settings

from .crd_schemas import KUBERNETES_VERSION, crd_errors

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
CUSTOM = {"ServiceMonitor", "PrometheusRule"}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(MANIFESTS.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _kind(kind: str) -> dict[str, Any]:
    (document,) = [doc for _, doc in _documents() if doc["kind"] == kind]
    return document


@pytest.mark.parametrize("name, document", _documents(), ids=[f"{n}:{d['kind']}" for n, d in _documents()])
def test_every_manifest_is_valid(name: str, document: dict[str, Any]) -> None:
    if document["kind"] in CUSTOM:
        assert crd_errors(document) == []
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_kind("Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    monitor = copy.deepcopy(_kind("ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert crd_errors(monitor)


def test_the_kustomization_lists_every_manifest_but_the_adapter_rule() -> None:
    listed = set(yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml", "prometheus-adapter-rules.yaml"}
    assert listed == present


def test_the_prometheus_rule_is_generated_from_the_shipped_rule_file() -> None:
    spec = importlib.util.spec_from_file_location("generate", MANIFESTS / "generate.py")
    generate = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(generate)  # type: ignore[union-attr]
    rules = (ROOT / "observability" / "prometheus" / "flagstream.rules.yml").read_text()
    assert (MANIFESTS / "prometheusrule.yaml").read_text() == generate.prometheus_rule(rules), (
        "run `python deploy/kubernetes/generate.py`"
    )
    assert _kind("PrometheusRule")["spec"] == yaml.safe_load(rules)


def _container() -> dict[str, Any]:
    return _kind("Deployment")["spec"]["template"]["spec"]["containers"][0]


def _settings():
    env = {e["name"]: e["value"] for e in _container()["env"] if "value" in e}
    return load_settings(env=env)  # every literal setting is valid


def test_the_pod_outlives_its_drain_and_probes_the_right_routes() -> None:
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    container = _container()
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + _settings().shutdown_grace
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and "memory" in container["resources"]["limits"]
    assert "command" not in container and "args" not in container  # the image's entrypoint runs
    strategy = _kind("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


def test_pings_outlive_no_timeout_and_the_hpa_targets_below_the_limit() -> None:
    settings = _settings()
    annotations = _kind("Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert float(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > settings.ping_interval + 1
    assert settings.broker == "redis" and settings.trusted_proxies
    (metric,) = _kind("HorizontalPodAutoscaler")["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "sse_connections"
    assert int(metric["pods"]["target"]["averageValue"]) < settings.max_connections


def test_the_adapter_rule_serves_the_metric_the_hpa_reads() -> None:
    config = yaml.safe_load(_kind("ConfigMap")["data"]["config.yaml"])
    (rule,) = config["rules"]
    assert rule["seriesQuery"].startswith("sse_connections{")
    assert rule["name"]["as"] == "sse_connections"
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    assert "<<.Series>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]


def test_the_service_monitor_scrapes_the_services_port() -> None:
    (endpoint,) = _kind("ServiceMonitor")["spec"]["endpoints"]
    ports = {p["name"] for p in _kind("Service")["spec"]["ports"]}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
