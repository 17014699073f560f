"""A publish's events dispatched at once (`Hub.dispatch_all`, the memory broker's fan-out)
leave every connection exactly as dispatching them one by one does: the same queues, the
same overflow closings, whatever mix of user events, broadcasts and collapse keys."""

from __future__ import annotations

import random

from observability.metrics import NoopMetrics
from sse_service.connection import Connection
from sse_service.hub import Hub, HubLimits
from sse_service.types import Offset, StoredEvent


def connections(rng: random.Random) -> list[Connection]:
    made = []
    for i in range(6):
        c = Connection(
            f"u{i % 3}",
            queue_size=rng.choice([2, 5, 50]),
            ping_interval=30,
            batch_window=0,
            expires_at=None,
            now=0.0,
            max_bytes=rng.choice([400, 4000, 1 << 20]),
        )
        c.sending = rng.random() < 0.5  # the queue bound applies while a write is under way
        made.append(c)
    return made


def events(rng: random.Random) -> list[StoredEvent]:
    made = []
    for seq in range(rng.randint(0, 30)):
        user = rng.choice([None, None, None, "u0", "u1"])
        key = rng.choice([None, None, None, "k"])
        made.append(StoredEvent(user, "0123456789ab", Offset(1, seq), "n", "x" * rng.randint(1, 60), 0.0, collapse_key=key))
    return made


def state(made: list[Connection], waiters: list[object]) -> list[tuple[list[object], str | None, bool]]:
    """Each connection's queue, closing reason, and whether its waiting writer was woken."""
    return [
        (list(c._queue), c.closing.reason if c.closing else None, waiter is not None and waiter.done())  # type: ignore[attr-defined]
        for c, waiter in zip(made, waiters)
    ]


async def test_dispatching_a_publish_at_once_is_dispatching_it_event_by_event() -> None:
    for seed in range(400):
        rng = random.Random(seed)
        published = events(rng)
        results = []
        for at_once in (False, True):
            rng_c = random.Random(seed)
            made = connections(rng_c)
            hub = Hub(HubLimits(100, 1000), NoopMetrics())
            for c in made:
                hub.register(c)
            waiters = [c.waiter() for c in made]  # each writer waits, as an idle stream's does
            if at_once:
                hub.dispatch_all(published)
            else:
                for event in published:
                    hub.dispatch(event)
            results.append(state(made, waiters))
        assert results[0] == results[1], seed
