"""One error contract for every broker: a store failure is `BrokerUnavailable`, whatever the call.

Callers (stream admission, the stream, the inbox, publishing, the worker's lease renewal) catch
exactly that; a `RedisError` or `OSError` leaking out of a broker would be a 500 or a dead task.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sse_service.broker.base import BrokerListeners
from sse_service.broker.redis import RedisBroker
from sse_service.broker.redis_cluster import RedisClusterBroker
from sse_service.types import BrokerUnavailable, Notification

DEAD = "redis://:hunter2-secret@127.0.0.1:1/0"  # nothing listens on port 1: every call fails

CALLS: dict[str, Callable[[Any], Awaitable[object]]] = {
    "append": lambda b: b.append("p", [Notification(("alice",), "n", "{}", None)]),
    "history": lambda b: b.history("alice", None, 10),
    "position": lambda b: b.position("alice"),
    "subscribe": lambda b: b.subscribe("alice"),
    "acquire_lease": lambda b: b.acquire_lease("alice", "c1", 5, False),
    "release_lease": lambda b: b.release_lease("alice", "c1"),
    "renew_leases": lambda b: b.renew_leases([("alice", "c1")]),
    "evict": lambda b: b.evict("alice", "c1"),
}


@pytest.fixture(params=["redis", "redis-cluster"])
async def dead_broker(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "redis":
        broker: Any = RedisBroker(DEAD, "contract:", 5, 60, 30)
    else:
        broker = RedisClusterBroker(DEAD, "contract:", 5, 60, 30, wait_replicas=0, wait_timeout_ms=100)
    await broker.start(BrokerListeners(lambda e: None, lambda u, c: None, lambda: None))
    yield broker
    await broker.close()


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_every_call_on_a_dead_store_raises_broker_unavailable_only(
    dead_broker: Any, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BrokerUnavailable) as raised:
        await CALLS[call](dead_broker)
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in caplog.text


async def test_unsubscribe_on_a_dead_store_never_raises(dead_broker: Any) -> None:
    with pytest.raises(BrokerUnavailable):
        await dead_broker.subscribe("alice")
    await dead_broker.unsubscribe("alice")  # cleanup after a failed subscribe: quiet by contract
