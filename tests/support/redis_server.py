"""A Redis for tests: the machine's own at 127.0.0.1:6379, or one started on a free port."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .requirements import require_binary


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_url() -> Iterator[str]:
    """The machine's Redis if it answers, else a private one."""
    default = "redis://127.0.0.1:6379/0"
    if _answers(default):
        yield default
        return
    with private_redis(free_port()) as url:
        yield url


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = require_binary("redis-server", "redis-server")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return process


@contextmanager
def private_redis(port: int) -> Iterator[str]:
    """A redis-server of the test's own, which the test may stop and start."""
    process = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(5)


def new_prefix() -> str:
    return f"flagstream-test:{uuid.uuid4().hex[:12]}:"


def delete_prefix(url: str, prefix: str) -> None:
    """Delete a test's keys; `url` may list several nodes (a cluster: keys one by one)."""
    for one in url.split(","):
        try:
            client = redis.Redis.from_url(one.strip(), socket_timeout=2, socket_connect_timeout=1)
            for key in list(client.scan_iter(match=prefix + "*", count=1000)):
                try:
                    client.delete(key)
                except redis.ResponseError:  # MOVED: a replica lists its master's keys
                    pass
            client.close()
        except redis.ConnectionError:  # a node a failover test killed
            continue
