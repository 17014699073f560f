"""Counting what the stream writers delivered: once per turn of the event loop, not per write.

A write into a connection the client has just reset does not fail: Hypercorn swallows the
`ConnectionError` and queues `http.disconnect`, which the stream's disconnect watcher reads
on the loop's next turn. So a write is counted only two turns later, once every watcher woken
by that turn's writes has marked its stream closed by the client; and the writes of a turn
are counted together: one metrics call with the turn's (latency, count) runs, instead of one
call and one extra task wake-up per write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from observability.types import Metrics, Tracing

from .connection import Connection
from .types import StoredEvent


class DeliveryLedger:
    __slots__ = ("_metrics", "_tracing", "_pending", "_scheduled")

    def __init__(self, metrics: Metrics, tracing: Tracing) -> None:
        self._metrics = metrics
        self._tracing = tracing
        self._pending: list[tuple[Connection, Sequence[StoredEvent], float, list[dict[str, str]]]] = []
        self._scheduled = False

    def wrote(self, connection: Connection, sent: Sequence[StoredEvent], at: float, carriers: list[dict[str, str]]) -> None:
        """`sent` went out on `connection`'s socket at `at` (unix seconds)."""
        self._pending.append((connection, sent, at, carriers))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        # The watchers woken by this turn's writes run in the next turn: count after them.
        asyncio.get_running_loop().call_soon(self.count)

    def count(self) -> None:
        """Count every pending write that did not go into a connection the client left."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        total = 0
        latest: dict[float, list[float]] = {}  # created_at → [count, latest write]
        for connection, sent, at, carriers in pending:
            closing = connection.closing
            if closing is not None and closing.reason == "client":
                continue
            total += len(sent)
            created, count = sent[0].created_at, 0
            for event in sent:  # runs of equal `created_at` (one publish) first: one dict step per run
                if event.created_at != created:
                    _add(latest, created, count, at)
                    created, count = event.created_at, 0
                count += 1
            _add(latest, created, count, at)
            if carriers:
                self._tracing.delivered(carriers, len(sent))
        if total:
            # One run per publish (its events share `created_at`), timed by its latest write.
            runs = [(at - created, int(n)) for created, (n, at) in latest.items()]
            self._metrics.events_delivered_runs(total, runs)


def _add(latest: dict[float, list[float]], created: float, count: int, at: float) -> None:
    run = latest.get(created)
    if run is None:
        latest[created] = [count, at]
    else:
        run[0] += count
        if at > run[1]:
            run[1] = at
