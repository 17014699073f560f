"""A real Prometheus (Debian package `prometheus`) scraping given targets every second."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port
from tests.support.requirements import require_binary


@contextmanager
def prometheus_scraping(
    targets: list[str], directory: Path, rule_files: Sequence[Path] = (), exemplars: bool = False
) -> Iterator[str]:
    """Prometheus scraping ``targets`` (host:port, path /metrics) every second as job
    `flagstream`, evaluating ``rule_files``; yields its URL once it is ready."""
    binary = require_binary("prometheus", "prometheus")
    config = directory / "prometheus.yml"
    config.write_text(
        json.dumps(
            {  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(path) for path in rule_files],
                "scrape_configs": [{"job_name": "flagstream", "static_configs": [{"targets": list(targets)}]}],
            }
        )
    )
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    if exemplars:
        command.append("--enable-feature=exemplar-storage")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
