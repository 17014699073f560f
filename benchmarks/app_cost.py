"""What our code costs per delivered notification above the floor, without sockets.

    .venv/bin/python benchmarks/app_cost.py                 # flagstream and the floor, side by side
    .venv/bin/python benchmarks/app_cost.py --profile out   # + cProfile of flagstream's run

Both ASGI apps (flagstream's full chain, middlewares included, and the bare floor in
benchmarks/peers/bare_asgi.py) are driven in one process with the same in-memory ASGI
`send`/`receive`: 1,000 streams, per-user notifications published in batches of 250 through
`POST /v1/notifications`, each delivered once. Hypercorn, h11 and the kernel are left out,
so the figure is the app's own CPU per delivery: the part the floor comparison says is ours
to remove. Process CPU time, so it survives a noisy machine better than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peers.bare_asgi import App as BareApp  # noqa: E402
from sse_service.app import create_app  # noqa: E402
from sse_service.auth import mint_token  # noqa: E402
from sse_service.config import load_settings  # noqa: E402
from sse_service.server import GC_FULL, GC_MIDDLE, GC_YOUNG  # noqa: E402

SECRET = "app-cost-secret-0123456789abcdef0123456789"
TOKEN = "app-cost-publish-token"
STREAMS = 1000
BATCH = 250


class Streams:
    """Open streams on an ASGI app, counting delivered `data:` blocks."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.delivered = 0
        self.wanted = 0
        self.done = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.gone: list[asyncio.Future[dict[str, Any]]] = []

    async def open(self, user: str) -> None:
        gone: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        started = asyncio.get_running_loop().create_future()
        self.gone.append(gone)

        async def receive() -> dict[str, Any]:
            return await gone

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message["status"])
                return
            body = message.get("body", b"")
            blocks = body.count(b"\nevent: n\n")
            if blocks:
                self.delivered += blocks
                if self.delivered >= self.wanted:
                    self.done.set()
            if not started.done():
                started.set_result(0)

        headers = [(b"authorization", f"Bearer {mint_token(SECRET, user)}".encode())]
        scope = _scope("GET", "/v1/stream", headers)
        self.tasks.append(asyncio.create_task(self.app(scope, receive, send)))
        status = await started
        assert status == 200, f"stream of {user}: {status}"

    async def close(self) -> None:
        for gone in self.gone:
            gone.set_result({"type": "http.disconnect"})
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def publish(app: Any, items: list[dict[str, Any]]) -> None:
    body = json.dumps({"notifications": items}).encode()
    answer: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.append(message["status"])

    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-type", b"application/json")]
    await app(_scope("POST", "/v1/notifications", headers), receive, send)
    assert answer == [202], answer


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }


async def measure(app: Any, rounds: int, profile: cProfile.Profile | None) -> float:
    """CPU µs per delivered notification over `rounds` rounds of one notification per stream."""
    streams = Streams(app)
    for n in range(STREAMS):
        await streams.open(f"user-{n}")
    gc.collect()
    gc.freeze()  # as `flagstream serve` does once started (sse_service/server.py), with its thresholds
    gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_FULL)
    users = [f"user-{n}" for n in range(STREAMS)]
    # Warm up once, then measure.
    for counting in (False, True):
        streams.delivered, streams.done = 0, asyncio.Event()
        streams.wanted = STREAMS * (rounds if counting else 1)
        if counting and profile is not None:
            profile.enable()
        cpu = time.process_time()
        for r in range(rounds if counting else 1):
            for start in range(0, STREAMS, BATCH):
                items = [
                    {"user_id": u, "event": "n", "data": {"r": r, "i": i}} for i, u in enumerate(users[start : start + BATCH])
                ]
                await publish(app, items)
                await asyncio.sleep(0)  # let writers run between batches, as a live server does
        await asyncio.wait_for(streams.done.wait(), 60)
        cpu = time.process_time() - cpu
        if counting and profile is not None:
            profile.disable()
    await streams.close()
    return cpu / streams.delivered * 1e6


async def flagstream_cost(rounds: int, profile: cProfile.Profile | None, metrics: bool, redis_url: str | None) -> float:
    broker = {"broker": "redis", "redis_url": redis_url, "redis_prefix": f"appcost:{os.getpid()}:"} if redis_url else {}
    settings = load_settings(
        env={},
        overrides={
            "jwt_secret": SECRET,
            "publish_token": TOKEN,
            "admin_token": "x" * 32,
            "log_level": "warning",
            "metrics_enabled": metrics,
            **broker,
        },
    )
    app = create_app(settings)
    await app.startup()
    try:
        return await measure(app.asgi_app, rounds, profile)
    finally:
        await app.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="notifications per stream (default 20)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of flagstream's run here")
    parser.add_argument("--metrics-off", action="store_true", help="flagstream with METRICS_ENABLED=false")
    parser.add_argument("--redis", metavar="URL", help="flagstream on the Redis broker at URL (the floor stays in memory)")
    args = parser.parse_args()
    import uvloop

    profile = cProfile.Profile() if args.profile else None
    floor = uvloop.run(measure(BareApp(SECRET, TOKEN), args.rounds, None))
    ours = uvloop.run(flagstream_cost(args.rounds, profile, not args.metrics_off, args.redis))
    print(f"app CPU per delivered notification: flagstream {ours:.1f} µs, floor {floor:.1f} µs, ratio {ours / floor:.2f}")
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
