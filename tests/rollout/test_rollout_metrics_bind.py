"""`rollout watch --metrics-port` serves its metrics on loopback unless told otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.rollout.conftest import PLAN
from tests.rollout.http_fixtures import text_server
from tests.support.redis_server import free_port

pytestmark = pytest.mark.slow


def listening_address(pid: int, port: int, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for connection in psutil.Process(pid).net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                return connection.laddr.ip
        time.sleep(0.05)
    raise AssertionError(f"rollout watch never listened on port {port}")


@pytest.mark.parametrize("extra, expected", [([], "127.0.0.1"), (["--metrics-host", "0.0.0.0"], "0.0.0.0")])
def test_rollout_watch_binds_its_metrics_to_loopback_by_default(tmp_path: Path, extra: list[str], expected: str) -> None:
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    port = free_port()
    with text_server(lambda: "") as metrics_url:
        argv = [
            sys.executable,
            "-m",
            "sse_service.cli",
            "rollout",
            "watch",
            "--plan",
            str(plan),
            "--state",
            str(tmp_path / "state.json"),
            "--flags-file",
            str(tmp_path / "flags.json"),
            "--metrics-url",
            metrics_url,
            "--metrics-port",
            str(port),
            *extra,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTREAM_")}
        watch = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert listening_address(watch.pid, port) == expected
        finally:
            watch.send_signal(signal.SIGTERM)
            output = watch.communicate(timeout=15)[0].decode()
    assert watch.returncode == 0, output
