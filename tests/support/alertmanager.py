"""A real Alertmanager (Debian package `prometheus-alertmanager`) on free ports, for end-to-end tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port
from tests.support.requirements import require_binary


@contextmanager
def alertmanager_running(config: Path, directory: Path) -> Iterator[str]:
    """Alertmanager with ``config`` (clustering off); yields its URL once ready."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    log_path = directory / "alertmanager.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={directory / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Alertmanager did not become ready: " + log_path.read_text()[-2000:]
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def fire(url: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
    """Post one firing alert to Alertmanager's API, as Prometheus does when a rule fires."""
    response = httpx.post(f"{url}/api/v2/alerts", json=[{"labels": labels, "annotations": annotations or {}}], timeout=5)
    response.raise_for_status()
