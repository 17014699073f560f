"""One suite, every broker: the embedded and the scaled modes cannot drift apart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from sse_service.broker.base import BrokerListeners
from sse_service.broker.memory import MemoryBroker
from sse_service.broker.redis import RedisBroker
from sse_service.types import EventId, IdempotencyConflict, Notification, StoredEvent, UnusableUserId


class Received:
    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self.evicted: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def listeners(self) -> BrokerListeners:
        def on_event(e: StoredEvent) -> None:
            self.events.append(e)
            self.changed.set()

        def on_evict(user: str, conn: str) -> None:
            self.evicted.append((user, conn))
            self.changed.set()

        return BrokerListeners(on_event, on_evict, lambda: None)

    async def wait_for(self, predicate, timeout: float = 5) -> None:
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


def make_broker(kind: str, request: pytest.FixtureRequest, size: int = 5):
    if kind == "memory":
        return MemoryBroker(size, 3600)
    if kind == "redis":
        return RedisBroker(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"), size, 3600, 30)
    from sse_service.broker.redis_cluster import RedisClusterBroker

    return RedisClusterBroker(
        request.getfixturevalue("redis_cluster_url"),
        request.getfixturevalue("redis_prefix"),
        size,
        3600,
        30,
        wait_replicas=1,
        wait_timeout_ms=2000,
    )


@pytest.fixture(params=["memory", "redis", pytest.param("redis-cluster", marks=pytest.mark.redis_cluster)])
async def broker(request) -> AsyncIterator[tuple[object, Received]]:
    b = make_broker(request.param, request)
    received = Received()
    await b.start(received.listeners())
    yield b, received
    await b.close()


def note(*users: str, data: str = "{}", key: str | None = None) -> Notification:
    return Notification(tuple(users), "n", data, key)


async def test_ids_are_cursors_that_name_each_stream(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a"), note(), note("b", "a")])
    assert [len(g) for g in accepted.ids] == [1, 1, 2]
    ids = [EventId.parse(i) for group in accepted.ids for i in group]
    assert len(set(map(str, ids))) == 4
    first_a, broadcast, b_id, second_a = ids
    assert first_a.user.epoch == second_a.user.epoch and first_a.user.offset < second_a.user.offset
    assert second_a.broadcast == broadcast.broadcast  # published after the broadcast, stamped with it
    assert b_id.user.epoch != first_a.user.epoch  # every user has a stream (and an epoch) of its own


async def test_history_merges_own_and_broadcast_events_oldest_first(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a", data="1"), note(data="2"), note("b", data="x"), note("a", data="3")])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["1", "2", "3"] and not page.reset
    assert str(page.ids[0]) == accepted.ids[0][0] and str(page.ids[2]) == accepted.ids[3][0]
    after_first = await b.history("a", EventId.parse(accepted.ids[0][0]), 100)
    assert [e.data_json for e in after_first.events] == ["2", "3"]
    assert [str(i) for i in after_first.ids] == [str(i) for i in page.ids[1:]]
    limited = await b.history("a", None, 2)
    assert [e.data_json for e in limited.events] == ["1", "2"]
    rest = await b.history("a", limited.ids[-1], 100)  # every page's last id resumes exactly
    assert [e.data_json for e in rest.events] == ["3"]


async def test_history_is_bounded_and_an_old_cursor_resets(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a", data=str(i)) for i in range(8)])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["3", "4", "5", "6", "7"]
    lost = await b.history("a", EventId.parse(accepted.ids[0][0]), 100)
    assert lost.reset and [e.data_json for e in lost.events] == ["3", "4", "5", "6", "7"]
    assert not (await b.history("a", EventId.parse(accepted.ids[3][0]), 100)).reset
    foreign = EventId.parse("abcdefabcdef.1-0." + accepted.ids[3][0].split(".", 2)[2])
    assert (await b.history("a", foreign, 100)).reset  # another epoch: another store


async def test_idempotency_key_is_per_publisher(broker) -> None:
    b, _ = broker
    first = await b.append("p1", [note("a", key="k")])
    again = await b.append("p1", [note("a", key="k")])
    other = await b.append("p2", [note("a", key="k")])
    assert again.ids == first.ids and again.duplicates == 1 and not again.events
    assert other.ids != first.ids
    assert len((await b.history("a", None, 100)).events) == 2


async def test_a_reused_key_with_another_notification_conflicts_and_stores_nothing(broker) -> None:
    b, _ = broker
    await b.append("p", [note("a", key="k")])
    with pytest.raises(IdempotencyConflict) as conflict:
        await b.append("p", [note("a", data="fresh"), note("a", data="other", key="k")])
    assert conflict.value.index == 1
    assert len((await b.history("a", None, 100)).events) == 1


async def test_a_retried_multi_recipient_notification_is_stored_once_per_recipient(broker) -> None:
    b, _ = broker
    first = await b.append("p", [note("x", "y", "z", key="job"), note(key="all")])
    again = await b.append("p", [note("x", "y", "z", key="job"), note(key="all")])
    assert again.ids == first.ids and again.duplicates == 2
    for user in ("x", "y", "z"):
        assert len((await b.history(user, None, 100)).events) == 2


async def test_a_lone_surrogate_user_id_is_refused_before_anything_is_stored(broker) -> None:
    b, _ = broker
    with pytest.raises(UnusableUserId):
        await b.append("p", [note("ok"), note("bad\ud800")])
    assert (await b.history("ok", None, 100)).events == []


async def test_user_ids_with_key_syntax_never_collide(broker) -> None:
    b, _ = broker
    users = ["alice", "alice:trimmed", "{alice}", "alice}:h", "b", "h:alice"]
    await b.append("p", [note(u, data=f'"{i}"') for i, u in enumerate(users)] * 3)
    for i, u in enumerate(users):
        assert [e.data_json for e in (await b.history(u, None, 100)).events] == [f'"{i}"'] * 3


async def test_subscribed_events_are_fanned_out_in_order(broker) -> None:
    b, received = broker
    await b.subscribe("a")
    accepted = await b.append("p", [note("a", data="1"), note("zzz"), note(data="2")])
    await received.wait_for(lambda: len([e for e in received.events if e.user_id in ("a", None)]) >= 2)
    mine = [str(e.id) for e in received.events if e.user_id in ("a", None)]
    if b.name == "redis-cluster":  # two shards: each stream in order, the two not interleaved in order
        mine.sort(key=lambda i: i != accepted.ids[0][0])
    assert mine == [accepted.ids[0][0], accepted.ids[2][0]]
    await b.unsubscribe("a")


async def test_position_is_a_cursor_after_everything_stored(broker) -> None:
    b, _ = broker
    await b.append("p", [note("pos", data="1"), note(data="2")])
    now = await b.position("pos")
    page = await b.history("pos", now, 100)
    assert page.events == [] and not page.reset
    await b.append("p", [note("pos", data="3")])
    assert [e.data_json for e in (await b.history("pos", now, 100)).events] == ["3"]
    fresh = await b.position("never-published")  # a real epoch even before any event
    assert not (await b.history("never-published", fresh, 100)).reset
    await b.append("p", [note("never-published", data="4")])
    assert [e.data_json for e in (await b.history("never-published", fresh, 100)).events] == ["4"]


async def test_leases_reject_or_evict_the_oldest(broker) -> None:
    b, received = broker
    assert (await b.acquire_lease("u", "0001", 2, False)).granted
    assert (await b.acquire_lease("u", "0002", 2, False)).granted
    assert not (await b.acquire_lease("u", "0003", 2, False)).granted
    result = await b.acquire_lease("u", "0003", 2, True)
    assert result.granted and result.evicted == ("0001",)
    await b.release_lease("u", "0002")
    assert (await b.acquire_lease("u", "0004", 2, False)).granted
    await b.subscribe("u")
    await b.evict("u", "0003")
    await received.wait_for(lambda: received.evicted == [("u", "0003")])


async def test_a_burst_of_connects_larger_than_the_connection_pool_gets_every_lease(broker) -> None:
    # 1,024 concurrent connects on Redis: redis-py 8's default pool (100) failed ~900 leases with
    # "Too many connections", each a 503 (redis-w1-idle-10k, benchmarks/RESULTS.md); the cluster's
    # per-node pools (MaxConnectionsError) too. Each connect also reads its position.
    b, _ = broker
    users = [f"burst-{n}" for n in range(1024)]
    leases = await asyncio.gather(*(b.acquire_lease(u, "0001", 5, False) for u in users))
    await asyncio.gather(*(b.position(u) for u in users))
    assert all(lease.granted for lease in leases)


async def test_streams_subscribing_at_once_on_a_fresh_instance_all_receive_their_events(broker) -> None:
    # Subscribes sent together before the pub/sub connection (on a cluster: each shard's) was up
    # must share one connect: two connects racing on one connection orphaned a subscription.
    b, received = broker
    users = [f"first-{n}" for n in range(50)]
    await asyncio.gather(*(b.subscribe(u) for u in users))
    await b.append("p", [note(u, data=f'"{u}"') for u in users])
    await received.wait_for(lambda: {e.user_id for e in received.events} == set(users))


async def test_check_reports_a_usable_broker(broker) -> None:
    b, _ = broker
    assert await b.check() is None


async def test_regression_a_cursor_from_before_a_wipe_resets_even_when_it_looks_valid(broker, request) -> None:
    """Issue 10 defect 2: after a wipe without persistence the new ids passed the old
    cursor, which then looked valid: what was accepted before the wipe was silently lost."""
    b, _ = broker
    before = await b.append("p", [note("w", data=str(i)) for i in range(3)])
    cursor = EventId.parse(before.ids[0][0])
    if b.name == "memory":
        b = MemoryBroker(5, 3600)
        await b.start(Received().listeners())
    else:
        from tests.support.redis_server import delete_prefix

        url = request.getfixturevalue("redis_cluster_url" if b.name == "redis-cluster" else "redis_url")
        delete_prefix(url, request.getfixturevalue("redis_prefix"))
    await b.append("p", [note("w", data=str(i)) for i in range(3, 8)])
    assert (await b.history("w", cursor, 100)).reset


async def test_a_cancelled_subscribe_holds_nothing(broker) -> None:
    """A stream that goes away while its subscribe waits for Redis does not keep the user's
    channel subscribed on this instance (only a subscribe that returned is undone)."""
    b, _ = broker
    pending = asyncio.create_task(b.subscribe("cancelled"))
    await asyncio.sleep(0)  # it has counted the stream and waits for the confirmation
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    if b.name != "memory":  # the memory broker has no subscriptions to hold
        from sse_service.broker.keys import user_keys

        assert user_keys("cancelled").channel(b._p) not in b._subscriptions._counts
