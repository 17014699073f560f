"""The delivery ledger: what the writers delivered, counted once per loop turn, after the turn's
disconnects are seen (a write into a socket the client reset is not a delivery)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from observability.tracing import NoopTracing
from sse_service.connection import Closing, Connection
from sse_service.delivery_ledger import DeliveryLedger
from sse_service.types import Offset, StoredEvent


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[int, list[tuple[float, int]]]] = []

    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        self.calls.append((count, sorted(runs)))


class Traced(NoopTracing):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    def delivered(self, carriers: Any, event_count: int, destination: str = "user") -> None:
        self.calls.append((len(carriers), event_count))


def connection(user: str) -> Connection:
    return Connection(user, queue_size=10, ping_interval=30, batch_window=0, expires_at=None, now=0)


def event(created_at: float, n: int = 0) -> StoredEvent:
    return StoredEvent("u", "e" * 12, Offset(1, n), "n", "{}", created_at)


async def turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_writes_of_a_turn_are_counted_in_one_call_with_one_run_per_publish() -> None:
    metrics, tracing = Recorded(), Traced()
    ledger = DeliveryLedger(metrics, tracing)  # type: ignore[arg-type]
    ledger.wrote(connection("a"), [event(10.0), event(11.0, 1)], 12.0, [])
    ledger.wrote(connection("b"), [event(10.0)], 12.5, [{"traceparent": "x"}])
    assert metrics.calls == []  # not before the disconnect watchers had their turn
    await turns(3)
    assert metrics.calls == [(3, [(1.0, 1), (2.5, 2)])]  # each publish timed by its latest write
    assert tracing.calls == [(1, 1)]


async def test_a_write_into_a_stream_the_client_left_in_the_same_turn_is_not_counted() -> None:
    metrics = Recorded()
    ledger = DeliveryLedger(metrics, NoopTracing())  # type: ignore[arg-type]
    gone, kept = connection("gone"), connection("kept")
    ledger.wrote(gone, [event(1.0)], 2.0, [])
    ledger.wrote(kept, [event(1.0)], 2.0, [])
    # What the disconnect watcher does on the next turn, after Hypercorn queued http.disconnect.
    asyncio.get_running_loop().call_soon(gone.close, Closing("client", b""))
    await turns(3)
    assert metrics.calls == [(1, [(1.0, 1)])]


async def test_a_stream_the_hub_closed_still_counts_what_it_wrote() -> None:
    metrics = Recorded()
    ledger = DeliveryLedger(metrics, NoopTracing())  # type: ignore[arg-type]
    closed = connection("closed")
    ledger.wrote(closed, [event(1.0)], 2.0, [])
    closed.close(Closing("overflow", b"event: overflow\n\n"))
    await turns(3)
    assert metrics.calls == [(1, [(1.0, 1)])]
