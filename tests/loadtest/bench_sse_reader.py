"""Micro-benchmark of the generator's SSE reader: events/s through `StreamProtocol._body`.

Not a test (no timing asserts): `python -m tests.loadtest.bench_sse_reader`. Each shape is a
1 MB buffer of `lt` blocks fed in 64 KB writes (cut anywhere, as TCP does) and as one write;
the figure is the best of 7 rounds. Shapes the reader misreads count 0 events.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from loadtest.stream_slot import StreamProtocol, StreamSlot, WorkerTotals

SIZE = 1 << 20
SHAPES = {
    "flagstream (id, event, data; LF)": "id: {id}\nevent: lt\ndata: {data}\n\n",
    "event, id, data; `: `; LF": "event: lt\nid: {id}\ndata: {data}\n\n",
    "event, id, data; no space (better-sse)": "event:lt\nid:{id}\ndata:{data}\n\n",
    "id, event, data; CRLF (sse-starlette)": "id: {id}\r\nevent: lt\r\ndata: {data}\r\n\r\n",
    "comment, data, event, id; `: `; LF": ": c\ndata: {data}\nevent: lt\nid: {id}\n\n",
    "comment, data, event, id; no space; CRLF": ":c\r\ndata:{data}\r\nevent:lt\r\nid:{id}\r\n\r\n",
}


def buffer(shape: str) -> tuple[bytes, int]:
    blocks, size, n = [], 0, 0
    while size < SIZE:
        event_id = f"0123456789ab.5-{n}.ba9876543210.0-0"
        data = json.dumps({"k": "b", "n": n, "t": 1764504000.123456}, separators=(",", ":"))
        block = shape.format(id=event_id, data=data).encode()
        blocks.append(block)
        size, n = size + len(block), n + 1
    return b"".join(blocks), n


async def rate(stream: bytes, events: int, write: int) -> tuple[float, int]:
    best = float("inf")
    received = 0
    for _ in range(7):
        slot = StreamSlot("u", "t", "127.0.0.1", 1, WorkerTotals(), asyncio.Semaphore(1), lambda s: None)
        protocol = StreamProtocol(slot, b"", None)  # type: ignore[arg-type]
        chunks = [stream[i : i + write] for i in range(0, len(stream), write)]
        start = time.perf_counter()
        for chunk in chunks:
            protocol._body(chunk)
        best = min(best, time.perf_counter() - start)
        received = slot.totals.received
    return events / best, received


async def main() -> None:
    print(f"python {sys.version.split()[0]}")
    for name, shape in SHAPES.items():
        stream, events = buffer(shape)
        for write in (64 * 1024, len(stream)):
            per_s, received = await rate(stream, events, write)
            label = "64 KB writes" if write < len(stream) else "one 1 MB write"
            print(f"{name:42} {label:15} {per_s / 1000:8.0f}k events/s  read {received}/{events}")


if __name__ == "__main__":
    asyncio.run(main())
