"""What one idle stream holds in the server: tracemalloc by file (or line), before vs with N streams.

    .venv/bin/python benchmarks/stream_memory.py -c 2000 [--by-line] [--floor]

Serves the real app in this process (uvloop, Hypercorn) with tracemalloc on, as production
serves it (its ASGI chain, `server.serve_app`), holds N streams with `flagstream loadtest
idle` from another process, and prints the Python allocations per stream by source file
(`--by-line`: by source line, top 40), plus RSS per stream (RSS includes what tracemalloc
cannot see: the interpreter's free lists, uvloop's C structures; `--rss`: RSS only, without
tracemalloc, whose own bookkeeping inflates it). `--floor` serves the
floor instead (`benchmarks/peers/bare_asgi.py` on plain Hypercorn, as the peers are run).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypercorn.asyncio import serve  # noqa: E402
from hypercorn.config import Config  # noqa: E402

from benchmarks.environment import JWT_SECRET, PUBLISH_TOKEN, free_port  # noqa: E402
from benchmarks.peers.bare_asgi import App as FloorApp  # noqa: E402
from sse_service.app import create_app  # noqa: E402
from sse_service.config import load_settings  # noqa: E402
from sse_service.server import hypercorn_config, serve_app  # noqa: E402


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _waiter(stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def stopped() -> None:
        await stop.wait()

    return stopped


def serve_flagstream(port: int, stop: asyncio.Event) -> tuple[asyncio.Task[None], Callable[[], int]]:
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
    hub = app.extensions["flagstream"].hub
    server = asyncio.create_task(serve_app(app, hypercorn_config(settings), shutdown_trigger=_waiter(stop)))
    return server, lambda: hub.connection_count


def serve_floor(port: int, stop: asyncio.Event) -> tuple[asyncio.Task[None], Callable[[], int]]:
    """As `benchmarks.peers.contract.serve_on_hypercorn` configures it; its streams are
    counted from its users' sets (a fixed wait was too short with tracemalloc on)."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.backlog = 4096
    config.keep_alive_timeout = 75
    config.accesslog = None
    app = FloorApp(JWT_SECRET, PUBLISH_TOKEN)
    server = asyncio.create_task(serve(app, config, shutdown_trigger=_waiter(stop), mode="asgi"))  # type: ignore[arg-type]
    return server, lambda: sum(len(streams) for streams in app.users.values())


async def measure(streams: int, hold: float, floor: bool, by_line: bool, top: int | None, rss_only: bool) -> None:
    port = free_port()
    stop = asyncio.Event()
    server, count = serve_floor(port, stop) if floor else serve_flagstream(port, stop)
    await asyncio.sleep(1.0)
    if not rss_only:
        tracemalloc.start(1)
    before, rss_before = tracemalloc.take_snapshot() if not rss_only else None, rss_bytes()
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
    while count() < streams:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    held = count()
    if before is None:
        print(f"{'floor' if floor else 'flagstream'}, {held} streams: RSS {(rss_bytes() - rss_before) / held:,.0f} B/stream")
        await generator.wait()
        stop.set()
        await server
        return
    during, rss_during = tracemalloc.take_snapshot(), rss_bytes()
    stats = during.compare_to(before, "lineno" if by_line else "filename")
    total = sum(s.size_diff for s in stats)
    print(
        f"{'floor' if floor else 'flagstream'}, {held} streams: Python allocations {total / held:,.0f} B/stream, "
        f"RSS {(rss_during - rss_before) / held:,.0f} B/stream"
    )
    for stat in stats[: top or (40 if by_line else 15)]:
        frame = stat.traceback[0]
        name = frame.filename.split("site-packages/")[-1].split("lib/python3.11/")[-1].removeprefix(f"{ROOT}/")
        where = f"{name}:{frame.lineno}" if by_line else name
        print(f"  {stat.size_diff / held:8,.0f} B  {stat.count_diff / held:6.1f} blocks  {where}")
    await generator.wait()
    stop.set()
    await server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--connections", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=8.0)
    parser.add_argument("--floor", action="store_true", help="serve the floor (benchmarks/peers/bare_asgi.py) instead")
    parser.add_argument("--by-line", action="store_true", help="group by source line (top 40) instead of by file")
    parser.add_argument("--top", type=int, help="how many files or lines to print (default 15 files, 40 lines)")
    parser.add_argument("--rss", action="store_true", help="RSS only, without tracemalloc (whose bookkeeping triples it)")
    args = parser.parse_args()
    import uvloop

    uvloop.run(measure(args.connections, args.hold, args.floor, args.by_line, args.top, args.rss))


if __name__ == "__main__":
    main()
