"""The publisher SDK stands alone: httpx and the standard library only, and its own
pyproject builds a wheel of just `flagstream_publisher`."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python"


def test_it_imports_nothing_of_the_server() -> None:
    imported = set()
    for path in (PACKAGE / "flagstream_publisher").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == {"httpx"}
    assert tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["dependencies"] == ["httpx>=0.27"]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_its_own_wheel_holds_only_the_sdk(tmp_path: Path) -> None:
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
    (wheel,) = tmp_path.glob("flagstream_publisher-*.whl")
    packages = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist() if not name.endswith(".dist-info/")}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"flagstream_publisher"}
