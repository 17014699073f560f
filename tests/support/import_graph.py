"""The import graph of our own packages, read from the source (nothing is imported)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "clients":  # clients/python/<package>/..., clients/js has no Python
        parts = parts[2:]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package_dir: str) -> dict[str, Path]:
    """Module name → file, for every .py under ``package_dir`` (relative to the repository)."""
    return {module_name(path): path for path in sorted((ROOT / package_dir).rglob("*.py"))}


@cache
def imports_of(path: Path) -> frozenset[str]:
    """Every module ``path`` imports, absolute, at any depth of the file (lazy imports too)."""
    package = _package_of(path)
    return frozenset(name for node in ast.walk(ast.parse(path.read_text(), str(path))) for name in _imported(node, package))


def top_level_imports(path: Path) -> frozenset[str]:
    """Imports at module level only (what importing the module runs); TYPE_CHECKING blocks excluded."""
    package = _package_of(path)
    found: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)):
            found.update(name for child in ast.walk(node) for name in _imported(child, package))
    return frozenset(found)


def _package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imported(node: ast.AST, package: str) -> list[str]:
    """The absolute module names one import statement names (`from pkg import module` too)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = package.split(".")
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def reachable(start: str, files: dict[str, Path]) -> set[str]:
    """Every module importing ``start`` loads (module-level imports, followed through our own
    modules and their parent packages' ``__init__``), ours and third-party alike."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        if name in files:
            todo.extend(top_level_imports(files[name]))
    return seen
