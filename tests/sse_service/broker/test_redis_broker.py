"""Redis-only guarantees: a request is all or nothing; errors say nothing of Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis

from sse_service.broker.base import BrokerListeners
from sse_service.broker.keys import user_keys
from sse_service.broker.redis import RedisBroker
from sse_service.types import BrokerUnavailable, EventId, Notification

from .test_broker_contract import Received

pytestmark = pytest.mark.redis


async def test_regression_a_batch_meeting_an_unusable_key_stores_nothing_and_a_retry_stores_once(redis_url, redis_prefix) -> None:
    """14.1: a batch that hit a WRONGTYPE key stored some recipients, answered 503, and the
    retry with the same idempotency key stored them again."""
    b = RedisBroker(redis_url, redis_prefix, 5, 3600, 30)
    await b.start(Received().listeners())
    plain = redis.Redis.from_url(redis_url)
    blocker = user_keys("bob").history(redis_prefix)
    plain.set(blocker, "foreign")
    batch = [Notification(("alice", "bob", "carol"), "n", "1", "job-1")]
    with pytest.raises(BrokerUnavailable) as refused:
        await b.append("p", batch)
    assert "WRONGTYPE" not in str(refused.value) and "redis" not in str(refused.value).lower()
    assert (await b.history("alice", None, 10)).events == []
    plain.delete(blocker)
    first = await b.append("p", batch)
    again = await b.append("p", batch)
    assert again.ids == first.ids
    for user in ("alice", "bob", "carol"):
        assert len((await b.history(user, None, 10)).events) == 1
    plain.close()
    await b.close()


async def test_keys_of_one_user_share_one_cluster_slot(redis_prefix) -> None:
    from redis.crc import key_slot

    keys = user_keys("any:{user}")
    names = [
        keys.history(redis_prefix),
        keys.meta(redis_prefix),
        keys.leases(redis_prefix),
        keys.channel(redis_prefix),
        keys.idempotency(redis_prefix, "d" * 32),
    ]
    assert len({key_slot(k.encode()) for k in names}) == 1


def test_redis_replies_are_parsed_by_hiredis() -> None:
    """The server depends on `redis[hiredis]`: redis-py's pure-Python RESP parser cost
    ~12 µs of server CPU more per delivery on the Redis broker (benchmarks/RESULTS.md)."""
    from redis._parsers.hiredis import _AsyncHiredisParser

    from sse_service.redis_client import pooled_client

    client = pooled_client("redis://127.0.0.1:6379/0", socket_timeout=1, socket_connect_timeout=1)
    assert isinstance(client.connection_pool.make_connection()._parser, _AsyncHiredisParser)


async def test_a_dropped_pubsub_connection_is_a_lost_fanout_then_every_channel_is_subscribed_again(
    redis_url, redis_prefix
) -> None:
    """The reader owns its connection: a drop (here CLIENT KILL of ours alone, Redis being
    shared) tells the streams to replay, and the channels are subscribed again."""
    name = "fanout-" + redis_prefix.strip(":").replace(":", "-")
    b = RedisBroker(f"{redis_url}?client_name={name}", redis_prefix, 5, 3600, 30)
    received = Received()
    lost = asyncio.Event()
    listeners = received.listeners()
    await b.start(BrokerListeners(listeners.on_event, listeners.on_evict, lost.set))
    await b.subscribe("alice")
    plain = redis.Redis.from_url(redis_url, decode_responses=True)
    ours = [c["id"] for c in plain.client_list() if c["name"] == name and int(c["sub"]) > 0]
    assert len(ours) == 1
    plain.client_kill_filter(_id=ours[0])
    await asyncio.wait_for(lost.wait(), 5)

    async def resubscribed() -> None:
        while await b.check() is not None:  # nothing to await: /readyz polls it the same way
            await asyncio.sleep(0.02)

    await asyncio.wait_for(resubscribed(), 10)
    await b.append("p", [Notification(("alice",), "n", "1")])
    await received.wait_for(lambda: [e.data_json for e in received.events] == ["1"])
    plain.close()
    await b.close()


async def test_a_live_event_carries_its_data_and_trace_exactly_as_published(redis_url, redis_prefix) -> None:
    """Fan-out messages are Lua cjson text read back by msgspec: every escape cjson writes
    (`\\/`, control characters, non-ASCII as raw UTF-8) comes back as the same string."""
    b = RedisBroker(redis_url, redis_prefix, 5, 3600, 30)
    received = Received()
    await b.start(received.listeners())
    await b.subscribe("alice")
    data = '{"a":"x/y\\\\z \\"q\\" \\u0001 é 𝄞 \\n"}'
    trace = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    await b.append("p", [Notification(("alice",), "n", data, collapse_key="k/1", trace=trace)])
    await received.wait_for(lambda: len(received.events) == 1)
    event = received.events[0]
    assert (event.data_json, event.trace, event.collapse_key) == (data, trace, "k/1")
    await b.close()


async def test_a_history_gone_while_its_meta_survived_gets_a_new_epoch(redis_url, redis_prefix) -> None:
    """APPEND reads a stream's meta in one HMGET: a meta left without its history (one key
    deleted or expired alone) must still start a new epoch, so an old cursor resets."""
    b = RedisBroker(redis_url, redis_prefix, 5, 3600, 30)
    await b.start(Received().listeners())
    first = EventId.parse((await b.append("p", [Notification(("alice",), "n", "1")])).ids[0][0])
    plain = redis.Redis.from_url(redis_url)
    plain.delete(user_keys("alice").history(redis_prefix))
    second = EventId.parse((await b.append("p", [Notification(("alice",), "n", "2")])).ids[0][0])
    assert second.user.epoch != first.user.epoch
    page = await b.history("alice", first, 10)
    assert page.reset and [e.data_json for e in page.events] == ["2"]
    plain.close()
    await b.close()


async def test_connects_that_come_together_share_calls_and_each_gets_its_own_answer(redis_url, redis_prefix) -> None:
    """Leases and positions asked together go out in shared script calls (redis_batches.py):
    a foreign key fails only its own connect, the per-user limit holds inside one call."""
    b = RedisBroker(redis_url, redis_prefix, 5, 3600, 30)
    await b.start(Received().listeners())
    plain = redis.Redis.from_url(redis_url)
    plain.set(user_keys("foreign").leases(redis_prefix), "x")
    plain.set(user_keys("foreign").meta(redis_prefix), "x")
    users = ["alice", "foreign", "bob", "alice", "alice"]  # alice's limit is 2
    leases = await asyncio.gather(*(b.acquire_lease(u, f"000{i}", 2, False) for i, u in enumerate(users)), return_exceptions=True)
    assert isinstance(leases[1], BrokerUnavailable)
    assert [lease.granted for lease in leases if not isinstance(lease, BaseException)] == [True, True, True, False]
    positions = await asyncio.gather(*(b.position(u) for u in ("alice", "foreign", "bob")), return_exceptions=True)
    assert isinstance(positions[1], BrokerUnavailable)
    alice, bob = positions[0], positions[2]
    assert isinstance(alice, EventId) and isinstance(bob, EventId)
    assert alice.broadcast == bob.broadcast and alice.user.epoch != bob.user.epoch
    assert (await b.position("alice")) == alice  # a lone connect is answered too
    plain.close()
    await b.close()


async def test_a_connect_given_up_while_its_call_is_queued_leaves_the_others_answered(redis_url, redis_prefix) -> None:
    b = RedisBroker(redis_url, redis_prefix, 5, 3600, 30)
    await b.start(Received().listeners())
    asks = [asyncio.create_task(b.position(f"user-{n}")) for n in range(3)]
    asks[1].cancel()
    answered = await asyncio.gather(*asks, return_exceptions=True)
    assert isinstance(answered[1], asyncio.CancelledError)
    assert all(isinstance(a, EventId) for a in (answered[0], answered[2]))
    await b.close()


async def test_calls_still_queued_when_the_broker_closes_fail_instead_of_waiting_forever() -> None:
    from sse_service.broker.redis_batches import Coalesced

    started, release = asyncio.Event(), asyncio.Event()

    async def send(asks: list[int]) -> list[int | BaseException]:
        started.set()
        await release.wait()
        return asks

    coalesced: Coalesced[int, int] = Coalesced(send)
    first = asyncio.create_task(coalesced.ask(1))
    await started.wait()
    queued = asyncio.create_task(coalesced.ask(2))
    await asyncio.sleep(0)
    await coalesced.close()
    for task in (first, queued):
        with pytest.raises(BrokerUnavailable):
            await task


async def test_a_coalesced_call_that_breaks_fails_its_callers_and_the_next_call_goes_out() -> None:
    from sse_service.broker.redis_batches import Coalesced

    calls: list[list[int]] = []

    async def send(asks: list[int]) -> list[int | BaseException]:
        calls.append(asks)
        if len(calls) == 1:
            raise ValueError("a defect in reading the answer")
        return [a * 10 for a in asks]

    coalesced: Coalesced[int, int] = Coalesced(send)
    with pytest.raises(BrokerUnavailable):
        await coalesced.ask(1)
    assert await asyncio.gather(coalesced.ask(2), coalesced.ask(3)) == [20, 30]
    assert calls == [[1], [2, 3]]
