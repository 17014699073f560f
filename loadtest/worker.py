"""A load-generator worker process: holds its share of the streams and reports what they saw.

The parent talks to it over a `multiprocessing` pipe: `open`, `reconnect`, `finish`.
Progress goes through a shared array the parent reads (connected, received).
"""

from __future__ import annotations

import asyncio
import resource
import time
from array import array
from multiprocessing.connection import Connection as Pipe
from typing import Any
from urllib.parse import urlsplit

from .stream_slot import StreamSlot, WorkerTotals
from .types import WorkerResult

PROGRESS_EVERY = 0.2


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit: every stream is a file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def worker_main(pipe: Pipe, url: str, progress: Any, index: int) -> None:
    raise_open_file_limit()
    try:
        import uvloop
    except ImportError:
        asyncio.run(LoadWorker(pipe, url, progress, index).serve())
    else:
        uvloop.run(LoadWorker(pipe, url, progress, index).serve())


class LoadWorker:
    def __init__(self, pipe: Pipe, url: str, progress: Any, index: int) -> None:
        parts = urlsplit(url)
        self.pipe = pipe
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.progress = progress
        self.index = index
        self.totals = WorkerTotals()
        self.slots: list[StreamSlot] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reporter = asyncio.create_task(self._report_progress())
        try:
            while True:
                command = await loop.run_in_executor(None, self.pipe.recv)
                op = command[0]
                if op == "open":
                    self.pipe.send(await self._open(*command[1:]))
                elif op == "reconnect":
                    self.pipe.send(await self._reconnect(command[1]))
                elif op == "finish":
                    self.pipe.send(await self._finish())
                    return
        finally:
            reporter.cancel()

    async def _open(self, streams: list[tuple[str, str]], concurrency: int, timeout: float) -> tuple[str, int, float, float]:
        handshakes = asyncio.Semaphore(concurrency)
        started = time.time()
        last = [started]

        def connected(_: StreamSlot) -> None:
            last[0] = time.time()

        for user_id, token in streams:
            slot = StreamSlot(user_id, token, self.host, self.port, self.totals, handshakes, connected)
            self.slots.append(slot)
            self.tasks.append(asyncio.create_task(slot.run()))
        await self._until(lambda: all(s.tally.connects >= 1 or s.failed for s in self.slots), timeout)
        return ("opened", self.totals.connected, started, last[0])

    async def _reconnect(self, timeout: float) -> tuple[str, int, float, float]:
        """Every stream drops and reconnects at once; the answer comes when all are back."""
        targets = [(slot, slot.tally.connects + 1) for slot in self.slots if not slot.failed]
        started = time.time()
        for slot, _ in targets:
            slot.reconnect_now()
        await self._until(lambda: all(s.tally.connects >= n or s.failed for s, n in targets), timeout)
        return ("reconnected", self.totals.connected, started, time.time())

    async def _finish(self) -> WorkerResult:
        for slot in self.slots:
            slot.stop()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        for task in self.tasks:
            task.cancel()
        t = self.totals
        return WorkerResult(
            tallies=[slot.tally for slot in self.slots],
            latencies=array("d", t.latencies),
            rejections=t.rejections,
            errors=t.errors,
            closes=t.closes,
            connect_seconds=array("d", t.handshakes),
        )

    async def _until(self, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _report_progress(self) -> None:
        base = self.index * 2
        while True:
            self.progress[base] = self.totals.connected
            self.progress[base + 1] = self.totals.received
            await asyncio.sleep(PROGRESS_EVERY)
