"""Who may import what, checked on the source (docs/architecture.md draws the same rules)."""

from __future__ import annotations

import pytest

from tests.support.import_graph import imports_of, modules, reachable

OURS = {**modules("sse_service"), **modules("flags"), **modules("observability"), **modules("rollout")}
# The app factory and the process entry points pick the implementations; nothing else does.
SERVICE_FACTORY = {"sse_service", "sse_service.app", "sse_service.server", "sse_service.cli"}


def _third_party(names: set[str] | frozenset[str], package: str) -> set[str]:
    return {name for name in names if name == package or name.startswith(package + ".")}


@pytest.mark.parametrize("module", sorted(modules("sse_service")))
def test_sse_service_never_imports_prometheus_client(module: str) -> None:
    assert not _third_party(imports_of(OURS[module]), "prometheus_client")


@pytest.mark.parametrize("module", sorted(set(modules("sse_service")) - SERVICE_FACTORY))
def test_sse_service_modules_but_the_factory_load_no_prometheus_client_nor_otel_sdk(module: str) -> None:
    # `import sse_service.hub` runs sse_service/__init__ (the factory) first: follow the module alone
    loaded = reachable(module, {name: path for name, path in OURS.items() if name not in SERVICE_FACTORY})
    assert not _third_party(loaded, "prometheus_client"), f"{module} loads prometheus_client"
    assert not _third_party(loaded, "opentelemetry.sdk"), f"{module} loads the OpenTelemetry SDK"


def test_the_import_graph_check_sees_prometheus_client_through_observability_metrics() -> None:
    """The check above can fail: the factory does load prometheus_client (through observability.metrics)."""
    assert _third_party(reachable("sse_service.app", OURS), "prometheus_client")
