"""The Hub's registry, queues and timers, without sockets."""

from __future__ import annotations

from observability.metrics import NoopMetrics
from sse_service.connection import Closing, Connection, Ping
from sse_service.hub import Hub, HubLimits
from sse_service.types import Offset, StoredEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def connection(user: str, clock: Clock, queue_size: int = 10, expires_at: float | None = None, ping: float = 30) -> Connection:
    return Connection(user, queue_size=queue_size, ping_interval=ping, batch_window=0, expires_at=expires_at, now=clock.now)


def event(seq: int, user: str | None) -> StoredEvent:
    return StoredEvent(user, "0123456789ab", Offset(1, seq), "n", "{}", 0.0)


async def test_registry_counts_users_and_connections() -> None:
    clock = Clock()
    hub = Hub(HubLimits(10, 1000), NoopMetrics(), clock)
    a1, a2, b = connection("a", clock), connection("a", clock), connection("b", clock)
    assert hub.register(a1) is True and hub.register(a2) is False and hub.register(b) is True
    snap = hub.snapshot()
    assert (snap.connections, snap.users) == (3, 2)
    assert snap.users_by_connection_count == {"1": 1, "2": 1, "3": 0, "4": 0, "5+": 0}
    assert hub.top_users(1) == [{"user_id": "a", "connections": 2}]
    assert hub.unregister(a1, "client") is False and hub.unregister(a2, "client") is True
    assert hub.unregister(a2, "client") is False  # twice is harmless
    assert (hub.connection_count, hub.user_count) == (1, 1)


async def test_global_limit_and_draining_refuse_new_streams() -> None:
    clock = Clock()
    hub = Hub(HubLimits(1, 1000), NoopMetrics(), clock)
    assert hub.refusal() is None
    hub.register(connection("a", clock))
    assert hub.refusal() == "global_limit"
    hub.start_draining()
    assert hub.refusal() == "draining"


async def test_user_events_go_to_that_user_and_broadcasts_to_all() -> None:
    clock = Clock()
    hub = Hub(HubLimits(10, 1000), NoopMetrics(), clock)
    a, b = connection("a", clock), connection("b", clock)
    hub.register(a), hub.register(b)
    hub.dispatch(event(1, "a"))
    hub.dispatch(event(2, None))
    assert [e.offset.n for e in await a.take()] == [1, 2]
    assert [e.offset.n for e in await b.take()] == [2]


async def test_full_queue_ends_only_that_connection_with_overflow() -> None:
    clock = Clock()
    hub = Hub(HubLimits(10, 1000), NoopMetrics(), clock)
    slow, other = connection("a", clock, queue_size=2), connection("a", clock, queue_size=100)
    hub.register(slow), hub.register(other)
    slow.sending = other.sending = True  # their writers are blocked on sockets that do not drain
    for seq in range(1, 4):
        hub.dispatch(event(seq, "a"))
    assert slow.closing is not None and slow.closing.reason == "overflow"
    assert b"event: overflow" in slow.closing.final_event
    assert other.closing is None and other.queued == 3


async def test_tick_sends_due_pings_and_reauth_on_expiry() -> None:
    clock = Clock()
    hub = Hub(HubLimits(10, 1000), NoopMetrics(), clock)
    pinged = connection("p", clock, ping=5)
    expiring = connection("e", clock, expires_at=clock.now + 2)
    hub.register(pinged), hub.register(expiring)
    clock.now += 3
    hub.tick()
    assert expiring.closing is not None and expiring.closing.reason == "reauth"
    assert pinged.queued == 0
    clock.now += 3
    hub.tick()
    [ping] = await pinged.take()
    assert isinstance(ping, Ping) and ping.wire.startswith(b'event: ping\ndata: {"server_time"')


async def test_draining_gives_each_connection_its_own_retry() -> None:
    clock = Clock()
    hub = Hub(HubLimits(100, 3000), NoopMetrics(), clock)
    conns = [connection(f"u{i}", clock) for i in range(20)]
    for c in conns:
        hub.register(c)
    hub.start_draining()
    retries = {c.closing.final_event.split(b"\n")[0] for c in conns}
    assert all(c.closing.reason == "shutdown" for c in conns)
    assert len(retries) > 1


class ClosedCounter(NoopMetrics):
    def __init__(self) -> None:
        self.closed: list[str] = []

    def connection_closed(self, reason: str) -> None:
        self.closed.append(reason)


async def test_a_slow_consumer_cut_is_counted_when_decided_not_when_its_writer_lets_go() -> None:
    clock, metrics = Clock(), ClosedCounter()
    hub = Hub(HubLimits(10, 1000), metrics, clock)
    slow = connection("a", clock, queue_size=1)
    hub.register(slow)
    slow.sending = True
    hub.dispatch(event(1, "a"))
    hub.dispatch(event(2, "a"))  # full: the hub decides `overflow` now
    assert metrics.closed == ["overflow"]
    hub.unregister(slow, "client")  # the writer ends later (a stuck write takes seconds)
    assert metrics.closed == ["overflow"]


async def test_every_ending_is_counted_once_whoever_decides_it() -> None:
    clock, metrics = Clock(), ClosedCounter()
    hub = Hub(HubLimits(10, 1000), metrics, clock)
    left, disabled, drained = connection("a", clock), connection("b", clock), connection("c", clock)
    for c in (left, disabled, drained):
        hub.register(c)
    left.close(Closing("client", b""))  # the client went away: counted when its stream ends
    hub.close(left, "overflow")  # too late: it is already ending
    hub.close(disabled, "disabled")
    hub.close(disabled, "overflow")
    hub.start_draining()
    assert metrics.closed == ["disabled", "shutdown"]
    for c in (left, disabled, drained):
        hub.unregister(c, "client")
    assert sorted(metrics.closed) == ["client", "disabled", "shutdown"]
