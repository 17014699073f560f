"""What the benchmark runs against: flagstream on the memory broker, or two on Redis behind HAProxy."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

JWT_SECRET = "bench-secret-0123456789abcdef0123456789"
PUBLISH_TOKEN = "bench-publish-token"
REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    url: str
    pids: tuple[int, ...]  # the flagstream processes (for the profiler)
    description: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, log_path: str, path: str = "/readyz") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}: {open(log_path).read()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


@contextlib.contextmanager
def flagstream(extra_env: dict[str, str] | None = None, workdir: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    state = tempfile.mkdtemp(prefix="flagstream-bench-", dir=workdir)
    env = {
        **os.environ,
        "FLAGSTREAM_PORT": str(port),
        "FLAGSTREAM_JWT_SECRET": JWT_SECRET,
        "FLAGSTREAM_PUBLISH_TOKEN": PUBLISH_TOKEN,
        "FLAGSTREAM_STATE_DIR": state,
        "FLAGSTREAM_LOG_LEVEL": "warning",
        "FLAGSTREAM_SHUTDOWN_GRACE": "2",
        **(extra_env or {}),
    }
    log_path = os.path.join(state, "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sse_service.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url, process
    finally:
        _stop(process, 20)
        shutil.rmtree(state, ignore_errors=True)


def _stop(process: subprocess.Popen, grace: float) -> None:
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def memory_target(metrics: bool = True, tracing: str | None = None, collapse_window_ms: int = 0) -> Iterator[Target]:
    """`tracing`: None (off), "every" (`OTEL_TRACES_SAMPLER=always_on`) or "default" (flagstream's own sampler)."""
    env = {"FLAGSTREAM_METRICS_ENABLED": "true" if metrics else "false", "FLAGSTREAM_COLLAPSE_WINDOW_MS": str(collapse_window_ms)}
    with contextlib.ExitStack() as stack:
        if tracing:
            env.update(stack.enter_context(otlp_sink(always_on=tracing == "every")))
        url, process = stack.enter_context(flagstream(env))
        label = (
            "one instance, memory broker"
            + ("" if metrics else ", metrics off (NoopMetrics)")
            + (", tracing on (every span exported over OTLP/HTTP)" if tracing == "every" else "")
            + (", tracing on (default sampler: parent-based, 1 % of new traces)" if tracing == "default" else "")
            + (f", COLLAPSE_WINDOW_MS={collapse_window_ms}" if collapse_window_ms else "")
        )
        yield Target(url, (process.pid,), label)


@contextlib.contextmanager
def otlp_sink(always_on: bool = True) -> Iterator[dict[str, str]]:
    """A local OTLP/HTTP endpoint, and the OTEL_* settings that make the service export to it."""
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.otlp_sink", str(port)], cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        yield {**env, "OTEL_TRACES_SAMPLER": "always_on"} if always_on else env
    finally:
        sink.terminate()
        sink.wait(5)


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


HAPROXY_CONFIG = """
global
    maxconn 9000          # two descriptors per proxied stream; the machine's hard limit is 20000
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout http-keep-alive 75s
frontend flagstream
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


@contextlib.contextmanager
def redis_haproxy_target() -> Iterator[Target]:
    """Two flagstream instances on one Redis, behind HAProxy (round robin, no stickiness)."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise RuntimeError("haproxy not found: install the Debian package `haproxy`")
    if not redis_available():
        raise RuntimeError(f"no Redis answers at {REDIS_URL}: install/start the Debian package `redis-server`")
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    env = {"FLAGSTREAM_BROKER": "redis", "FLAGSTREAM_REDIS_URL": REDIS_URL, "FLAGSTREAM_REDIS_PREFIX": prefix}
    with contextlib.ExitStack() as stack:
        a_url, a = stack.enter_context(flagstream(env))
        b_url, b = stack.enter_context(flagstream(env))
        port = free_port()
        servers = "\n".join(f"    server {name} {u.removeprefix('http://')} check" for name, u in (("a", a_url), ("b", b_url)))
        config = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        config.write(HAPROXY_CONFIG.format(port=port, servers=servers))
        config.close()
        log_path = config.name + ".log"
        with open(log_path, "wb") as log:
            proxy = subprocess.Popen([haproxy, "-db", "-f", config.name], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proxy, log_path, "/healthz")
            yield Target(url, (a.pid, b.pid), "two instances on Redis behind HAProxy")
        finally:
            proxy.terminate()
            proxy.wait(10)
            os.unlink(config.name)
            _delete_prefix(prefix)


@contextlib.contextmanager
def peer_target(command: list[str], description: str, cwd: Path = ROOT) -> Iterator[Target]:
    """A peer app of `benchmarks/peers/`, started as `command PORT JWT_SECRET PUBLISH_TOKEN`."""
    port = free_port()
    log_path = tempfile.mktemp(prefix="peer-", suffix=".log")
    with open(log_path, "wb") as log:
        arguments = [*command, str(port), JWT_SECRET, PUBLISH_TOKEN]
        process = subprocess.Popen(arguments, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log_path, "/healthz")
        yield Target(f"http://127.0.0.1:{port}", (process.pid,), description)
    finally:
        _stop(process, 10)
        os.unlink(log_path)


PYTHON_PEERS = {  # run target -> (module of benchmarks/peers/, description)
    "peer-bare": ("bare_asgi", "bare ASGI on Hypercorn + uvloop (the floor)"),
    "peer-quart": ("quart_naive", "naive Quart on Hypercorn + uvloop"),
    "peer-starlette": ("sse_starlette_app", "Starlette + sse-starlette on Uvicorn (uvloop)"),
}


def python_peer_target(name: str) -> contextlib.AbstractContextManager[Target]:
    return peer_target([sys.executable, "-m", f"benchmarks.peers.{PYTHON_PEERS[name][0]}"], PYTHON_PEERS[name][1])


def node_better_sse_target() -> contextlib.AbstractContextManager[Target]:
    """Node + better-sse; its packages installed from package-lock.json (`npm ci`) when missing."""
    app = ROOT / "benchmarks" / "peers" / "node_better_sse"
    if not (shutil.which("node") and shutil.which("npm")):
        raise RuntimeError("node/npm not found: install Node 20 (the Debian packages `nodejs` and `npm`)")
    if not (app / "node_modules").exists():
        installed = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=str(app), capture_output=True, text=True)
        if installed.returncode != 0:
            raise RuntimeError(f"npm ci failed in {app}: {installed.stderr[-2000:]}")
    return peer_target(["node", "server.js"], "Node + better-sse", cwd=app)


@contextlib.contextmanager
def redis_workers_target(workers: int) -> Iterator[Target]:
    """One `flagstream serve` with WORKERS processes on one Redis (SO_REUSEPORT: the kernel
    spreads connections over the workers); CPU and RSS are the whole process tree's."""
    if not redis_available():
        raise RuntimeError(f"no Redis answers at {REDIS_URL}: install/start the Debian package `redis-server`")
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    env = {
        "FLAGSTREAM_BROKER": "redis",
        "FLAGSTREAM_REDIS_URL": REDIS_URL,
        "FLAGSTREAM_REDIS_PREFIX": prefix,
        "FLAGSTREAM_WORKERS": str(workers),
        "FLAGSTREAM_MAX_CONNECTIONS": "20000",
    }
    try:
        with flagstream(env) as (url, process):
            label = f"WORKERS={workers} on Redis (SO_REUSEPORT)" if workers > 1 else "one process on Redis"
            yield Target(url, (process.pid,), label)
    finally:
        _delete_prefix(prefix)


def _delete_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    client.close()
