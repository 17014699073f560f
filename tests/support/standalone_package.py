"""What a package that must install on its own (the Python client, the publisher SDK) imports,
and the wheel its own pyproject builds, for the packaging tests."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path


def third_party_imports(module_dir: Path) -> set[str]:
    """Top-level names the package's modules import, the standard library left out."""
    imported: set[str] = set()
    for path in module_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    return imported - sys.stdlib_module_names


def built_wheel_names(project_dir: Path, tmp_path: Path, dist_name: str) -> list[str]:
    """The file names in the wheel `project_dir`'s own pyproject builds (outside the tree:
    setuptools writes build/ beside the sources)."""
    source = tmp_path / "source"
    shutil.copytree(project_dir, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob(f"{dist_name}-*.whl")
    return zipfile.ZipFile(wheel).namelist()
