"""The Python client stands alone: httpx, httpx-sse and the standard library, its own pyproject."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python" / "flagstream_client"


def test_the_client_imports_nothing_of_the_server_and_declares_what_it_imports() -> None:
    imported = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == {"httpx", "httpx_sse"}
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["httpx", "httpx-sse"]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_its_own_wheel_holds_only_the_client(tmp_path: Path) -> None:
    source = tmp_path / "source"  # built out of the tree: setuptools writes build/ beside the sources
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("flagstream_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"flagstream_client"}
    assert "flagstream_client/notifications.py" in names and "flagstream_client/pyproject.toml" not in names
    assert "flagstream_client/reconnect-policy.json" in names  # the shared table, through the link
