"""The server's wheel pulls only what the server imports: the Python client and the load
generator bring their own dependencies through extras (`[client]`, `[loadtest]`)."""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement

from tests.support.import_graph import ROOT, imports_of, modules

SERVER_PACKAGES = ("sse_service", "flags", "observability", "rollout")
OURS = {"sse_service", "flags", "observability", "rollout", "loadtest", "flagstream_client", "flagstream_publisher"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _distributions(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def _third_party_imports(package_dirs: tuple[str, ...]) -> set[str]:
    found = set()
    for package in package_dirs:
        for path in modules(package).values():
            found |= {name.split(".")[0] for name in imports_of(path)}
    return {name for name in found if name and name not in sys.stdlib_module_names and name not in OURS}


def _distribution_of(module: str) -> set[str]:
    return {d.lower().replace("_", "-") for d in packages_distributions().get(module, [module])}


def test_the_server_runtime_dependencies_drop_the_client_and_load_generator_ones() -> None:
    runtime = _distributions(PROJECT["dependencies"])
    # (h11 is the server's own too: sse_service/direct_writes.py frames body chunks as it does)
    assert not runtime & {"httpx-sse", "tqdm"}
    assert {"httpx-sse"} <= _distributions(PROJECT["optional-dependencies"]["client"])
    assert {"httpx-sse", "tqdm", "h11"} <= _distributions(PROJECT["optional-dependencies"]["loadtest"])


def test_every_third_party_module_the_server_imports_is_a_declared_runtime_dependency() -> None:
    runtime = _distributions(PROJECT["dependencies"])
    undeclared = {module for module in _third_party_imports(SERVER_PACKAGES) if not _distribution_of(module) & runtime}
    # Parts of a declared dependency, used through it: werkzeug is Quart's, apscheduler and
    # yggdrasil_engine are UnleashClient's (its version pins theirs), cryptography is PyJWT[crypto]'s,
    # opentelemetry the namespace of the declared OpenTelemetry packages.
    part_of_a_dependency = {"werkzeug", "apscheduler", "yggdrasil_engine", "cryptography", "opentelemetry"}
    assert undeclared - part_of_a_dependency == set()


def test_the_load_generator_imports_only_the_server_its_extra_and_the_client() -> None:
    allowed = _distributions(PROJECT["dependencies"]) | _distributions(PROJECT["optional-dependencies"]["loadtest"])
    undeclared = {module for module in _third_party_imports(("loadtest",)) if not _distribution_of(module) & allowed}
    assert undeclared == set()


def test_every_package_of_the_repository_is_listed_for_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for top in ("sse_service", "flags", "observability", "rollout", "loadtest", "clients/python"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(module_name_of_package(init.parent))
    assert found | {"sse_service.client_js"} == set(setuptools["packages"])
    assert setuptools["package-dir"]["sse_service.client_js"] == "clients/js/src"


def module_name_of_package(directory) -> str:
    parts = directory.relative_to(ROOT).parts
    return ".".join(parts[2:] if parts[0] == "clients" else parts)
