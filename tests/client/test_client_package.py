"""The Python client stands alone: httpx, httpx-sse and the standard library, its own pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support.standalone_package import built_wheel_names, third_party_imports

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python" / "flagstream_client"


def test_the_client_imports_nothing_of_the_server_and_declares_what_it_imports() -> None:
    assert third_party_imports(PACKAGE) == {"httpx", "httpx_sse"}
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["httpx", "httpx-sse"]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_its_own_wheel_holds_only_the_client(tmp_path: Path) -> None:
    names = built_wheel_names(PACKAGE, tmp_path, "flagstream_client")
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"flagstream_client"}
    assert "flagstream_client/notifications.py" in names and "flagstream_client/pyproject.toml" not in names
    assert "flagstream_client/reconnect-policy.json" in names  # the shared table, through the link
