from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support.gates import SwitchableGate
from tests.support.inprocess import Served, server_settings, serving
from tests.support.redis_cluster import LocalCluster, local_cluster
from tests.support.redis_server import delete_prefix, new_prefix
from tests.support.redis_server import redis_url as _redis_url
from tests.support.server import RunningServer, start_server

logging.getLogger("UnleashClient").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with _redis_url() as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A local 3 masters + 3 replicas Redis Cluster for the whole session."""
    with local_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: LocalCluster) -> str:
    return redis_cluster.url


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    for name in ("redis_url", "redis_cluster_url"):
        if name in request.fixturenames:
            delete_prefix(request.getfixturevalue(name), prefix)


@pytest.fixture(params=["memory", "redis", pytest.param("redis-cluster", marks=pytest.mark.redis_cluster)])
def broker_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that select each broker in turn: the same test runs against every one."""
    if request.param == "memory":
        return {"broker": "memory"}
    if request.param == "redis-cluster":
        return {
            "broker": "redis-cluster",
            "redis_url": request.getfixturevalue("redis_cluster_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
            # Six local nodes on two loaded CI cores can lag a replica's ack past the 500 ms
            # default; a refused publish here would be the machine, not the code under test.
            "redis_cluster_wait_timeout_ms": 5000,
        }
    url = request.getfixturevalue("redis_url")
    return {"broker": "redis", "redis_url": url, "redis_prefix": request.getfixturevalue("redis_prefix")}


@pytest.fixture
def gate() -> SwitchableGate:
    return SwitchableGate()


@pytest.fixture
def make_server(broker_settings: dict[str, Any], gate: SwitchableGate):
    """`async with make_server(**settings) as served:` — a real server on the selected broker."""

    def make(**changes: Any):
        return serving(server_settings(**{**broker_settings, **changes}), flag_gate=gate)

    return make


@pytest.fixture
async def served(make_server) -> AsyncIterator[Served]:
    async with make_server() as s:
        yield s


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """A real `flagstream serve` process (embedded default) on a free port."""
    running = start_server()
    yield running
    running.stop()
