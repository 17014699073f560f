"""Serving the app on Hypercorn: one worker, uvloop when installed, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from hypercorn import protocol as hypercorn_protocol
from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio import serve
from hypercorn.config import Config, Sockets
from hypercorn.logging import Logger
from hypercorn.protocol import h11 as hypercorn_h11

from flags import FlagConfigError, FlagsFileError
from observability.metrics import NoopMetrics

from .app import create_app
from .config import ConfigError, Settings
from .direct_writes import DirectBodies, DirectChunks, DirectWrites
from .header_deadline import HeaderDeadlineTCPServer

log = logging.getLogger("flagstream")
GC_YOUNG, GC_MIDDLE, GC_FULL = 5000, 10, 1000  # Python's default is 700, 10, 10


def redact(query: str) -> str:
    """The query with the value of every parameter whose *decoded* name mentions
    `access_token` replaced: the routes decode `access%5Ftoken` to `access_token` too."""
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, _, _ = part.partition("=")
        if "access_token" in unquote_plus(name, encoding="latin-1").lower():
            parts[index] = f"{name}=[redacted]"
    return "&".join(parts)


class RedactingLogger(Logger):
    """Hypercorn's logger with `access_token` values removed from every access line."""

    async def access(self, request: Any, response: Any, request_time: float) -> None:  # type: ignore[override,unused-ignore]
        query = request.get("query_string", b"")
        if query:
            request = {**request, "query_string": redact(query.decode("latin-1")).encode("latin-1")}
        await super().access(request, response, request_time)


# A client that vanished without a FIN (a laptop lid, a dead NAT) would otherwise hold its
# stream until the kernel gives up retransmitting, about fifteen minutes: keepalive probes
# find an idle dead peer, and a user timeout ends a connection whose writes go unacknowledged.
# DEAD_PEER_TIMEOUT (default 60 s) sets both: probes after that much silence, 3 of them
# a sixth of it apart, and writes unacknowledged for that long.
KEEPALIVE_PROBES = 3


@dataclass(frozen=True)
class DeadPeerDetection:
    keepalive_idle: int
    keepalive_interval: int
    unacknowledged_write_timeout_ms: int

    @classmethod
    def after(cls, seconds: float) -> DeadPeerDetection:
        return cls(max(1, round(seconds)), max(1, round(seconds / 6)), max(1, int(seconds * 1000)))


class ServingTCPServer(HeaderDeadlineTCPServer, DirectWrites):
    """Hypercorn's per-connection server with the request-head deadline and direct writes."""


def install_connection_server() -> None:
    """Make Hypercorn's asyncio worker build ServingTCPServer for every connection, and
    DirectChunks and DirectBodies for every HTTP/1.1 connection and request (Hypercorn is
    pinned below 0.19; tests/sse_service/test_direct_writes.py)."""
    hypercorn_run.TCPServer = ServingTCPServer  # type: ignore[attr-defined,misc,unused-ignore]
    hypercorn_protocol.H11Protocol = DirectChunks  # type: ignore[misc]
    hypercorn_h11.HTTPStream = DirectBodies  # type: ignore[misc]


class StreamingConfig(Config):
    """Hypercorn's config whose listening sockets pass dead-peer detection on to every
    accepted connection (Linux copies these options to accepted sockets)."""

    dead_peer = DeadPeerDetection.after(60)
    header_timeout: float | None = None  # read by HeaderDeadlineTCPServer

    def create_sockets(self) -> Sockets:  # type: ignore[override,unused-ignore]
        sockets = super().create_sockets()
        for sock in sockets.secure_sockets + sockets.insecure_sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                set_dead_peer_detection(sock, self.dead_peer)
        return sockets


def set_dead_peer_detection(sock: socket.socket, detection: DeadPeerDetection) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", detection.keepalive_idle),
        ("TCP_KEEPINTVL", detection.keepalive_interval),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", detection.unacknowledged_write_timeout_ms),
    ):
        option = getattr(socket, name, None)
        if option is not None:  # not every platform has every option
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def hypercorn_config(settings: Settings) -> Config:
    config = StreamingConfig()
    config.dead_peer = DeadPeerDetection.after(settings.dead_peer_timeout)
    config.bind = [f"{settings.host}:{settings.port}"]
    config.logger_class = RedactingLogger
    config.accesslog = "-" if settings.access_log or settings.log_level == "debug" else None
    # The full request line, query included: RedactingLogger makes that safe.
    config.access_log_format = '%(h)s %(t)s "%(R)s" %(s)s %(b)s "%(a)s"'
    config.errorlog = logging.getLogger("hypercorn.error")  # through our own handlers, once
    config.graceful_timeout = 1.0  # streams are already ended by our own drain
    config.keep_alive_timeout = 75
    config.header_timeout = settings.header_timeout
    config.backlog = 4096
    # Several workers each bind the port with SO_REUSEPORT (hypercorn sets it when
    # workers > 1); each worker is a whole instance with its own Hub.
    config.workers = settings.workers
    warnings.filterwarnings("ignore", message="The config `workers` has no affect")
    return config


async def serve_until_stopped(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    app = create_app(settings, metrics=None if settings.metrics_enabled else NoopMetrics())
    services = app.extensions["flagstream"]
    try:
        await services.start()
    except FlagConfigError as exc:
        setting = "FLAGSTREAM_FLAGS_FILE" if isinstance(exc, FlagsFileError) else "FLAGSTREAM_UNLEASH_URL"
        raise ConfigError(f"{setting}: {exc}") from None
    config = hypercorn_config(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def drain_then_stop() -> None:
        log.info("SIGTERM: draining %d streams (grace %.0fs)", services.hub.connection_count, settings.shutdown_grace)
        await services.drain()
        stop.set()

    def on_signal() -> None:
        if not services.hub.draining:
            loop.create_task(drain_then_stop())
        else:
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)

    @app.before_serving
    async def announce() -> None:
        # Everything built so far (modules, the app, the flag engine) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise walk it
        # every time and pause the loop (benchmarks/analysis.md, "the garbage collector").
        gc.collect()
        gc.freeze()
        # Full collections walk every open stream's objects (~125 each): with Python's default
        # (one per 10 middle ones, and only once the heap grew by a quarter) a ramp to 10,000
        # streams ran ten of them, 2.6-3.9 s in all. A young collection every 5,000 container
        # allocations instead of 700: the app's CPU per notification 16 -> 14 us
        # (benchmarks/app_cost.py). Cycles of streams that ended wait longer (analysis.md).
        gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_FULL)
        if on_ready is not None:
            on_ready(f"http://{settings.host}:{settings.port}")

    async def stopped() -> None:
        await stop.wait()

    await serve_app(app, config, shutdown_trigger=stopped)


async def serve_app(app: Any, config: Config, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
    """Hypercorn's `serve`, with a deadline on request heads (`header_deadline`) and direct writes (`direct_writes`).

    Hypercorn is given the app's ASGI chain itself (`app.asgi_app`, which also answers the
    lifespan): `Quart.__call__` would only add a frame to every open stream's await chain."""
    install_connection_server()
    await serve(app.asgi_app, config, shutdown_trigger=shutdown_trigger, mode="asgi")


def run(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve in this process, or (WORKERS > 1, Redis broker only) in that many processes."""
    if settings.workers > 1:
        _run_workers(settings, on_ready)
    else:
        _run_one(settings, on_ready)


def _run_workers(settings: Settings, on_ready: Callable[[str], None] | None) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_run_worker, args=(settings, on_ready if index == 0 else None), name=f"flagstream-worker-{index}")
        for index in range(settings.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid and worker.is_alive():
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()


def _run_worker(settings: Settings, on_ready: Callable[[str], None] | None) -> None:
    try:
        _run_one(settings, on_ready)
    except ConfigError as exc:
        print(f"flagstream: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


def _run_one(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_until_stopped(settings, on_ready))
    else:
        uvloop.run(serve_until_stopped(settings, on_ready))
