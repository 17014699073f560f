"""The processes a fault scenario starts, stops, kills and pauses: Redis, flagstream, HAProxy."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx


class MissingTool(Exception):
    """A system package the scenario needs is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise MissingTool(f"`{name}` not found: install the Debian package `{package}`")
    return path


def wait_until(check, what: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached within {timeout:g} s")
        time.sleep(0.05)


class RedisProcess:
    """A redis-server of the scenario's own; `persistent` turns on AOF with fsync on every write."""

    def __init__(self, workdir: str, persistent: bool) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [
                binary("redis-server", "redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                self.workdir,
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, "redis-server start", 10, self.process)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL: what was fsynced to the AOF survives, nothing else."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class Instance:
    """One `flagstream serve` process (optionally inside a network namespace)."""

    name: str
    env: dict[str, str]
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    prefix: Sequence[str] = ()  # e.g. ("ip", "netns", "exec", NAME)
    process: subprocess.Popen[bytes] | None = None
    log_path: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        if not self.log_path:
            self.log_path = os.path.join(self.env["FLAGSTREAM_STATE_DIR"], f"{self.name}.log")
        env = {**os.environ, **self.env, "FLAGSTREAM_HOST": self.host, "FLAGSTREAM_PORT": str(self.port)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "sse_service.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self.ready, f"{self.name} ready", timeout, self.process)

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout: float = 30) -> None:
        """SIGTERM and wait: the instance drains its streams (`shutdown`) and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()[-4000:]
        except OSError:
            return ""


class HAProxy:
    """HAProxy in front of the instances: health checks on /readyz, connection failures and
    503s retried on the other instance, stream-friendly timeouts."""

    def __init__(self, workdir: str, backends: Sequence[Instance]) -> None:
        self.port = free_port()
        self.config_path = os.path.join(workdir, "haproxy.cfg")
        self.backends = backends
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"    server {b.name} {b.host}:{b.port} check inter 300ms fall 2 rise 1" for b in self.backends)
        return f"""global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503
frontend front
    bind 127.0.0.1:{self.port}
    default_backend flagstream
backend flagstream
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""

    def start(self) -> None:
        with open(self.config_path, "w") as fh:
            fh.write(self.config())
        haproxy = binary("haproxy", "haproxy")
        check = subprocess.run([haproxy, "-c", "-q", "-f", self.config_path], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected its config: {check.stderr.strip()}")
        self.process = subprocess.Popen(
            [haproxy, "-db", "-f", self.config_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._serves, "haproxy ready", 15, self.process)

    def _serves(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def state_dir() -> str:
    return tempfile.mkdtemp(prefix="flagstream-faults-")
