"""Streams whose client stops reading: how they end, and what is counted as delivered."""

from __future__ import annotations

import asyncio
import time

import pytest

from loadtest.faults.stalled import StalledStream
from tests.support.gates import SwitchableGate
from tests.support.inprocess import Served, server_settings, serving

pytestmark = pytest.mark.slow
BLOB = "x" * 60_000


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.02)


def delivered_total(served: Served) -> float:
    for line in served.services.metrics.exposition()[0].decode().splitlines():
        if line.startswith("sse_events_delivered_total "):
            return float(line.split()[1])
    raise AssertionError("sse_events_delivered_total not exported")


async def test_a_stalled_client_that_reads_again_finds_overflow_as_the_last_event() -> None:
    async with serving(server_settings(queue_size=100), flag_gate=SwitchableGate()) as served:
        stream = await StalledStream.open(served.url, served.token("stalled"))
        try:
            await stream.read_until(b"event: connected", timeout=10)
            [connection] = served.services.hub.user_connections("stalled")
            # 6 MB the client does not read (more than the kernel buffers): the writer blocks...
            await served.publish({"notifications": [{"user_id": "stalled", "data": BLOB}] * 100})
            await until(lambda: connection.sending)
            # ... and while it is stuck the queue fills: the hub decides `overflow`.
            await served.publish({"notifications": [{"user_id": "stalled", "data": BLOB}] * 101})
            assert connection.closing is not None and connection.closing.reason == "overflow"
            assert connection.sending
            await until(lambda: not served.services.hub.user_connections("stalled"))
            await stream.read_to_end(timeout=20)
            names = [event.event for event in stream.events()]
            assert names[-1] == "overflow", names[-3:]
        finally:
            stream.close()


async def test_events_written_into_a_reset_connection_are_not_counted_as_delivered() -> None:
    # A queue big enough that nothing overflows: the stuck write ends only when the peer resets.
    async with serving(server_settings(queue_size=1000), flag_gate=SwitchableGate()) as served:
        stream = await StalledStream.open(served.url, served.token("gone"))
        await stream.read_until(b"event: connected", timeout=10)
        await served.publish({"user_id": "gone", "data": "small"})
        await stream.read_until(b'data: "small"', timeout=10)
        assert delivered_total(served) == 1
        [connection] = served.services.hub.user_connections("gone")
        await served.publish({"notifications": [{"user_id": "gone", "data": BLOB}] * 200})  # 12 MB, one write
        await until(lambda: connection.sending)  # 12 MB cannot fit a 4 KiB window: it stays stuck
        stream.reset()
        await until(lambda: not served.services.hub.user_connections("gone"))
        assert delivered_total(served) == 1
