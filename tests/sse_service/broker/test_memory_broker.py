"""The memory broker stays bounded: idle users are forgotten, idempotency records capped."""

from __future__ import annotations

from sse_service.broker import memory
from sse_service.broker.memory import MemoryBroker
from sse_service.types import Notification


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_regression_users_published_to_once_are_forgotten_after_the_history_ttl() -> None:
    """14.5: every user ever published to kept a deque and a trim mark forever."""
    clock = Clock()
    broker = MemoryBroker(10, 60, clock=clock)
    await broker.append("p", [Notification(tuple(f"u{i}" for i in range(1000)), "n", "1")])
    assert broker.tracked_users == 1000
    clock.now += 61
    await broker.append("p", [Notification(("fresh",), "n", "1")])
    assert broker.tracked_users == 1
    assert (await broker.history("u1", None, 10)).events == []


async def test_idempotency_records_are_capped_oldest_first(monkeypatch) -> None:
    monkeypatch.setattr(memory, "MAX_IDEMPOTENCY_RECORDS", 5)
    broker = MemoryBroker(10, 3600, clock=Clock())
    for i in range(8):
        await broker.append("p", [Notification(("u",), "n", str(i), f"k{i}")])
    assert len(broker._idempotency) <= 6
    again = await broker.append("p", [Notification(("u",), "n", "7", "k7")])
    assert again.duplicates == 1  # the newest are kept
