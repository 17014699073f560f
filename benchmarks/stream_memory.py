"""What one idle stream holds in the server: tracemalloc by file, before vs with N streams.

    .venv/bin/python benchmarks/stream_memory.py -c 2000

Serves the real app in this process (uvloop, Hypercorn) with tracemalloc on, holds N
streams with `flagstream loadtest idle` from another process, and prints the Python
allocations per stream by source file, plus RSS per stream (RSS includes what
tracemalloc cannot see: the interpreter's free lists, uvloop's C structures).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypercorn.asyncio import serve  # noqa: E402

from benchmarks.environment import JWT_SECRET, PUBLISH_TOKEN, free_port  # noqa: E402
from sse_service.app import create_app  # noqa: E402
from sse_service.config import load_settings  # noqa: E402
from sse_service.server import hypercorn_config  # noqa: E402


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def measure(streams: int, hold: float) -> None:
    port = free_port()
    settings = load_settings(
        env={},
        overrides={
            "port": port,
            "jwt_secret": JWT_SECRET,
            "publish_token": PUBLISH_TOKEN,
            "log_level": "warning",
            "state_dir": "/tmp/flagstream-stream-memory",
        },
    )
    app = create_app(settings)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, hypercorn_config(settings), shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    await asyncio.sleep(1.0)
    tracemalloc.start(1)
    before, rss_before = tracemalloc.take_snapshot(), rss_bytes()
    generator = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sse_service.cli",
        "loadtest",
        "idle",
        "--url",
        f"http://127.0.0.1:{port}",
        "--jwt-secret",
        JWT_SECRET,
        "-c",
        str(streams),
        "-d",
        str(hold),
        "-w",
        "2",
        "--no-progress",
        "--json",
        stdout=subprocess.DEVNULL,
    )
    hub = app.extensions["flagstream"].hub
    while hub.connection_count < streams:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    during, rss_during = tracemalloc.take_snapshot(), rss_bytes()
    held = hub.connection_count
    stats = during.compare_to(before, "filename")
    total = sum(s.size_diff for s in stats)
    print(
        f"{held} streams: Python allocations {total / held:,.0f} B/stream, RSS {(rss_during - rss_before) / held:,.0f} B/stream"
    )
    for stat in stats[:15]:
        name = stat.traceback[0].filename.split("site-packages/")[-1].split("lib/python3.11/")[-1]
        print(f"  {stat.size_diff / held:8,.0f} B  {stat.count_diff / held:6.1f} blocks  {name}")
    await generator.wait()
    stop.set()
    await server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--connections", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=8.0)
    args = parser.parse_args()
    import uvloop

    uvloop.run(measure(args.connections, args.hold))


if __name__ == "__main__":
    main()
