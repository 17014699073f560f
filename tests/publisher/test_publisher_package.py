"""The publisher SDK stands alone: httpx and the standard library only, and its own
pyproject builds a wheel of just `flagstream_publisher`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support.standalone_package import built_wheel_names, third_party_imports

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python"


def test_it_imports_nothing_of_the_server() -> None:
    assert third_party_imports(PACKAGE / "flagstream_publisher") == {"httpx"}
    assert tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["dependencies"] == ["httpx>=0.27"]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_its_own_wheel_holds_only_the_sdk(tmp_path: Path) -> None:
    packages = {name.split("/")[0] for name in built_wheel_names(PACKAGE, tmp_path, "flagstream_publisher")}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"flagstream_publisher"}
