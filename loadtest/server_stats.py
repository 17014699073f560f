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
    """CPU and RSS of the process and its live children (WORKERS > 1 serves from children)."""
    own = _read(pid)
    if own is None:
        return ServerSample(time.monotonic(), None, None)
    cpu, rss = own
    for child in _children(pid):
        found = _read(child)
        if found is not None:
            cpu, rss = cpu + found[0], (rss or 0) + (found[1] or 0)
    return ServerSample(time.monotonic(), cpu, rss)


def _read(pid: int) -> tuple[float, float | None] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return cpu, rss


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
