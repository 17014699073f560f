"""Skipping for a missing system package — except under CI, where nothing may go untested."""

from __future__ import annotations

import os
import shutil

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    if under_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"`{name}` not found: install the Debian package `{package}`")
    return path  # type: ignore[return-value]
