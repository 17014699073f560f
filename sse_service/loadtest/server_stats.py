"""The server's own CPU and memory, read from its /metrics (`process_*` series)."""

from __future__ import annotations

import re
import time

import httpx

from .types import ServerSample

_SAMPLE = re.compile(r"^(process_cpu_seconds_total|process_resident_memory_bytes) ([0-9.eE+-]+)$", re.M)


async def sample_server(http: httpx.AsyncClient, url: str) -> ServerSample:
    """One reading; None values when /metrics is closed or lacks process metrics."""
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
