"""One suite, both brokers: the embedded and the scaled mode cannot drift apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sse_service.broker.base import BrokerListeners
from sse_service.broker.memory import MemoryBroker
from sse_service.broker.redis import RedisBroker
from sse_service.types import EventId, Notification, StoredEvent


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


@pytest.fixture(params=["memory", "redis"])
async def broker(request) -> AsyncIterator[tuple[object, Received]]:
    size = 5
    if request.param == "memory":
        b = MemoryBroker(size, 3600)
    else:
        b = RedisBroker(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"), size, 3600, 30)
    received = Received()
    await b.start(received.listeners())
    yield b, received
    await b.close()


def note(*users: str, data: str = "{}", key: str | None = None) -> Notification:
    return Notification(tuple(users), "n", data, key)


async def test_ids_increase_across_users_and_broadcasts(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a"), note(), note("b", "a")])
    ids = [EventId.parse(i) for group in accepted.ids for i in group]
    assert [len(g) for g in accepted.ids] == [1, 1, 2]
    assert ids == sorted(ids) and len({i.seq for i in ids}) == 4


async def test_history_merges_own_and_broadcast_events_oldest_first(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a", data="1"), note(data="2"), note("b", data="x"), note("a", data="3")])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["1", "2", "3"] and not page.reset
    after_first = await b.history("a", EventId.parse(accepted.ids[0][0]), 100)
    assert [e.data_json for e in after_first.events] == ["2", "3"]
    limited = await b.history("a", None, 2)
    assert [e.data_json for e in limited.events] == ["1", "2"]


async def test_history_is_bounded_and_an_old_cursor_resets(broker) -> None:
    b, _ = broker
    accepted = await b.append("p", [note("a", data=str(i)) for i in range(8)])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["3", "4", "5", "6", "7"]
    assert (await b.history("a", EventId.parse(accepted.ids[0][0]), 100)).reset
    assert not (await b.history("a", EventId.parse(accepted.ids[3][0]), 100)).reset
    assert (await b.history("a", EventId(1, 2**62), 100)).reset          # from a wiped store


async def test_idempotency_key_is_per_publisher(broker) -> None:
    b, _ = broker
    first = await b.append("p1", [note("a", key="k")])
    again = await b.append("p1", [note("a", key="k")])
    other = await b.append("p2", [note("a", key="k")])
    assert again.ids == first.ids and again.duplicates == 1 and not again.events
    assert other.ids != first.ids
    assert len((await b.history("a", None, 100)).events) == 2


async def test_subscribed_events_are_fanned_out_in_order(broker) -> None:
    b, received = broker
    await b.subscribe("a")
    accepted = await b.append("p", [note("a", data="1"), note("zzz"), note(data="2")])
    await received.wait_for(lambda: len([e for e in received.events if e.user_id in ("a", None)]) >= 2)
    mine = [e for e in received.events if e.user_id in ("a", None)]
    assert [str(e.id) for e in mine] == [accepted.ids[0][0], accepted.ids[2][0]]
    await b.unsubscribe("a")


async def test_leases_reject_or_evict_the_oldest(broker) -> None:
    b, received = broker
    assert (await b.acquire_lease("u", "0001", 2, False)).granted
    assert (await b.acquire_lease("u", "0002", 2, False)).granted
    assert not (await b.acquire_lease("u", "0003", 2, False)).granted
    result = await b.acquire_lease("u", "0003", 2, True)
    assert result.granted and result.evicted == ("0001",)
    await b.release_lease("u", "0002")
    assert (await b.acquire_lease("u", "0004", 2, False)).granted
    await b.evict("u", "0003")
    await received.wait_for(lambda: received.evicted == [("u", "0003")])


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
        delete_prefix(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    await b.append("p", [note("w", data=str(i)) for i in range(3, 8)])
    assert (await b.history("w", cursor, 100)).reset
