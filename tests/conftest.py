from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support.gates import SwitchableGate
from tests.support.inprocess import Served, serving, server_settings
from tests.support.server import RunningServer, start_server
from tests.support.redis_server import delete_prefix, new_prefix, redis_url as _redis_url

logging.getLogger("UnleashClient").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with _redis_url() as url:
        yield url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(params=["memory", "redis"])
def broker_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that select each broker in turn: the same test runs against both."""
    if request.param == "memory":
        return {"broker": "memory"}
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
