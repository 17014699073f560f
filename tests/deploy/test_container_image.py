"""The Dockerfile cannot be built here (no image registry to pull the base from): what it
runs, as whom, and what its install steps produce are checked instead."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.support.server import SERVE_ARGS

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _last(instruction: str) -> str:
    return [value for name, value in _instructions() if name == instruction][-1]


def test_the_image_runs_the_command_the_tests_run() -> None:
    entrypoint = json.loads(_last("ENTRYPOINT"))  # exec form: the server is PID 1 and gets SIGTERM
    assert entrypoint == ["python", *SERVE_ARGS]
    assert "CMD" not in {name for name, _ in _instructions()}
    assert _last("STOPSIGNAL") == "SIGTERM"


def test_the_image_runs_as_the_unprivileged_user_the_deployment_expects() -> None:
    user, group = _last("USER").split(":")
    assert int(user) != 0 and int(group) != 0
    pod = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(user) and pod["securityContext"]["runAsNonRoot"] is True


def test_no_dev_mode_and_no_test_extras() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "--dev" not in text and "DEV_MODE" not in text
    runs = " ".join(value for name, value in _instructions() if name == "RUN")
    assert "pip install --no-cache-dir ." in runs and "[test]" not in runs and " -e " not in runs


def test_the_image_copies_every_package_the_project_ships() -> None:
    copied = {value.split()[0] for name, value in _instructions() if name == "COPY" and not value.startswith("--from")}
    pyproject = (ROOT / "pyproject.toml").read_text()
    for package in ("sse_service", "flags", "observability", "rollout"):
        assert package in copied and f'"{package}"' in pyproject
    assert "clients/python" in copied and '"clients/python/flagstream_publisher"' in pyproject
    assert "clients/js/src" in copied and '"clients/js/src"' in pyproject


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_images_install_step_builds_a_complete_package(tmp_path: Path) -> None:
    """`pip install .` (not editable) carries the static client, the rule files and the SDK."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("flagstream-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "sse_service/client_js/flagstream.js",
        "sse_service/static/index.html",
        "flags/defaults/flags.json",
        "observability/prometheus/flagstream.rules.yml",
        "flagstream_publisher/publisher.py",
        "sse_service/cli.py",
    ):
        assert expected in names, expected
