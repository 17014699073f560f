"""The server's own CPU and memory: from /proc when its pid is given, else its /metrics.

/metrics carries `process_cpu_seconds_total` and `process_resident_memory_bytes` unless
metrics are switched off (FLAGSTREAM_METRICS_ENABLED=false), which is exactly when the
benchmark compares costs; it then passes the pid (same machine: 127.0.0.1 only).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx

from .types import ServerSample

_SAMPLE = re.compile(r"^(process_cpu_seconds_total|process_resident_memory_bytes) ([0-9.eE+-]+)$", re.M)


async def sample_server(http: httpx.AsyncClient, url: str, pid: int | None = None) -> ServerSample:
    """One reading; None values when /metrics is closed or lacks process metrics."""
    if pid is not None:
        return sample_process(pid)
    try:
        response = await http.get(url.rstrip("/") + "/metrics", timeout=10)
    except httpx.HTTPError:
        return ServerSample(time.monotonic(), None, None)
    if response.status_code != 200:
        return ServerSample(time.monotonic(), None, None)
    found = {name: float(value) for name, value in _SAMPLE.findall(response.text)}
    return ServerSample(time.monotonic(), found.get("process_cpu_seconds_total"), found.get("process_resident_memory_bytes"))


def cpu_percent(before: ServerSample, after: ServerSample) -> float | None:
    if before.cpu_seconds is None or after.cpu_seconds is None or after.at <= before.at:
        return None
    return 100 * (after.cpu_seconds - before.cpu_seconds) / (after.at - before.at)


def sample_process(pid: int) -> ServerSample:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ServerSample(time.monotonic(), None, None)
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks          # utime + stime
    rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return ServerSample(time.monotonic(), cpu, rss)
