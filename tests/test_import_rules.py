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


DIRS = {
    "sse_service": "sse_service",
    "flags": "flags",
    "observability": "observability",
    "rollout": "rollout",
    "loadtest": "loadtest",
    "flagstream_client": "clients/python/flagstream_client",
    "flagstream_publisher": "clients/python/flagstream_publisher",
}
# What each package may import of ours when it is imported (docs/architecture.md, "Who imports whom").
AT_IMPORT = {
    "observability": set(),
    "flags": set(),
    "rollout": {"flags", "observability"},
    "sse_service": {"flags", "observability"},
    "loadtest": {"sse_service", "flagstream_client"},
    "flagstream_client": set(),
    "flagstream_publisher": set(),
}
# ... and only inside a function, so that a service that never uses them never loads them.
LAZILY = {"sse_service": {"rollout", "loadtest", "flagstream_publisher"}}
ALL_MODULES = {name: (package, path) for package, directory in DIRS.items() for name, path in modules(directory).items()}
# Outside the factory, sse_service sees observability only through its protocols and the rolling stats.
SERVICE_VIEW_OF_OBSERVABILITY = {"observability.types", "observability.stats"}


def _ours(names: frozenset[str]) -> set[str]:
    return {name.split(".")[0] for name in names} & set(DIRS)


@pytest.mark.parametrize("module", sorted(ALL_MODULES))
def test_each_package_imports_only_what_the_architecture_allows(module: str) -> None:
    from tests.support.import_graph import top_level_imports

    package, path = ALL_MODULES[module]
    at_import = _ours(top_level_imports(path)) - {package}
    anywhere = _ours(imports_of(path)) - {package}
    assert at_import <= AT_IMPORT[package], f"{module} imports {at_import - AT_IMPORT[package]} when imported"
    allowed = AT_IMPORT[package] | LAZILY.get(package, set())
    assert anywhere <= allowed, f"{module} imports {anywhere - allowed}"


@pytest.mark.parametrize("module", sorted(set(modules("sse_service")) - SERVICE_FACTORY))
def test_the_service_sees_observability_only_through_its_types_and_stats(module: str) -> None:
    seen = {name for name in imports_of(OURS[module]) if name in OURS and name.split(".")[0] == "observability"}
    assert seen - {"observability"} <= SERVICE_VIEW_OF_OBSERVABILITY, seen
