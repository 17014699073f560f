"""What ends a stream with `overflow`: a reader behind (blocked writes, bytes, time), not a burst."""

from __future__ import annotations

from observability.metrics import NoopMetrics
from sse_service.connection import EVENT_OVERHEAD, Connection
from sse_service.hub import Hub, HubLimits
from sse_service.types import Offset, StoredEvent


def conn(queue_size: int = 4, max_bytes: int = 1 << 20) -> Connection:
    return Connection("a", queue_size=queue_size, ping_interval=30, batch_window=0, expires_at=None, now=0.0, max_bytes=max_bytes)


def event(n: int, data: str = "{}") -> StoredEvent:
    return StoredEvent("a", "0123456789ab", Offset(1, n), "n", data, 0.0)


def test_a_burst_to_an_idle_writer_is_queued_whole_however_many_events() -> None:
    c = conn(queue_size=4)
    assert all(c.offer(event(n)) for n in range(1000))
    assert c.queued == 1000


def test_events_queued_while_a_write_is_blocked_are_bounded_by_queue_size() -> None:
    c = conn(queue_size=4)
    c.sending = True
    assert [c.offer(event(n)) for n in range(5)] == [True] * 4 + [False]


async def test_taking_the_queue_frees_its_bytes() -> None:
    c = conn(max_bytes=3 * (100 + EVENT_OVERHEAD))
    assert all(c.offer(event(n, "x" * 100)) for n in range(3))
    assert not conn(max_bytes=3 * (100 + EVENT_OVERHEAD)).offer(event(0, "x" * 1000))
    await c.take()
    assert all(c.offer(event(n, "x" * 100)) for n in range(3))
    assert not c.offer(event(9, "x"))


async def test_the_timer_cuts_a_stream_that_made_no_progress_for_queue_max_delay() -> None:
    now = [1000.0]
    hub = Hub(HubLimits(10, 1000, queue_max_delay=30), NoopMetrics(), lambda: now[0])
    stuck, idle = conn(), conn()
    hub.register(stuck), hub.register(idle)
    stuck.sending = True  # a write that never completes
    hub.tick()
    now[0] += 30
    hub.tick()
    assert stuck.closing is None  # not longer than the limit yet
    now[0] += 1.5
    hub.tick()
    assert stuck.closing is not None and stuck.closing.reason == "overflow"
    assert idle.closing is None


async def test_a_completed_write_restarts_the_clock() -> None:
    now = [1000.0]
    hub = Hub(HubLimits(10, 1000, queue_max_delay=30), NoopMetrics(), lambda: now[0])
    c = conn()
    hub.register(c)
    c.offer(event(1))
    hub.tick()
    now[0] += 20
    await c.take()  # the writer wrote it
    c.offer(event(2))
    hub.tick()
    now[0] += 20
    hub.tick()
    assert c.closing is None
