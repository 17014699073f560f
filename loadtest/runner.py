"""Running one scenario: start workers, connect, load, drain, collect, report."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .progress import Progress
from .publisher import Publisher
from .report import percentiles_ms, verify, verify_latest
from .server_stats import cpu_percent, sample_server
from .types import COLLAPSE_KEY, LoadPlan, LoadReport, WorkerResult
from .worker import worker_main

SETTLE = 1.0  # after connecting, before reading the server's memory
QUIET = 1.0  # collapse: deliveries have stopped when none came for this long


class WorkerPool:
    """The worker processes and their pipes; the streams are dealt out round robin."""

    def __init__(self, plan: LoadPlan) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = max(1, min(plan.workers, plan.connections))
        self.progress = context.Array("q", 2 * self.count, lock=False)
        self.pipes = []
        self.processes = []
        for index in range(self.count):
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(child, plan.url, self.progress, index), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    async def ask(self, messages: list[tuple[Any, ...]], timeout: float) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe, message in zip(self.pipes, messages):
            pipe.send(message)

        def receive(pipe: Any) -> Any:
            if not pipe.poll(timeout):
                raise TimeoutError("a load worker did not answer in time")
            return pipe.recv()

        return await asyncio.gather(*(loop.run_in_executor(None, receive, pipe) for pipe in self.pipes))

    def connected(self) -> int:
        return sum(self.progress[2 * i] for i in range(self.count))

    def received(self) -> int:
        return sum(self.progress[2 * i + 1] for i in range(self.count))

    def close(self) -> None:
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


async def run_plan(plan: LoadPlan) -> LoadReport:
    connect_timeout = 60 + plan.connections / 200
    pool = WorkerPool(plan)
    progress = Progress(plan.progress)
    notes: list[str] = []
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=plan.publishers + 4)) as http:
            before = await sample_server(http, plan.url, plan.server_pid)
            shares = [list(plan.tokens[i :: pool.count]) for i in range(pool.count)]
            progress.phase("connect", plan.connections, pool.connected)
            opened = await pool.ask(
                [("open", share, plan.connect_concurrency, connect_timeout) for share in shares], connect_timeout + 30
            )
            progress.done()
            connected = sum(o[1] for o in opened)
            first, last = min(o[2] for o in opened), max(o[3] for o in opened)
            await asyncio.sleep(SETTLE)
            settled = await sample_server(http, plan.url, plan.server_pid)
            publisher = Publisher(http, plan.url, plan.publish_token, plan.batch, plan.publish_interval)
            users = [user for user, _ in plan.tokens]
            load_start = await sample_server(http, plan.url, plan.server_pid)
            started = time.monotonic()
            await _load(plan, pool, publisher, users, progress, notes)
            publish_seconds = time.monotonic() - started
            expected = _expected_deliveries(publisher, users, plan)
            progress.phase("drain", expected, pool.received)
            if plan.scenario == "collapse":  # how many arrive is the point: wait until deliveries stop
                await _until_quiet(pool.received, QUIET, plan.drain_timeout)
            else:
                await _until(lambda: pool.received() >= expected, plan.drain_timeout)
            progress.done()
            load_end = await sample_server(http, plan.url, plan.server_pid)
            delivery_seconds = time.monotonic() - started
        results: list[WorkerResult] = await pool.ask([("finish",)] * pool.count, 60)
    finally:
        progress.done()
        pool.close()
    return _report(
        plan,
        results,
        publisher,
        connected,
        last - first if connected else None,
        before,
        settled,
        load_start,
        load_end,
        publish_seconds,
        delivery_seconds,
        notes,
    )


async def _load(
    plan: LoadPlan, pool: WorkerPool, publisher: Publisher, users: list[str], progress: Progress, notes: list[str]
) -> None:
    until = time.monotonic() + plan.duration
    work: list[Awaitable[None]] = []
    if plan.scenario in ("notify", "storm", "mixed", "collapse"):
        collapse = COLLAPSE_KEY if plan.scenario == "collapse" else None
        work.append(publisher.notify(users, plan.rate, until, plan.count, plan.publishers, collapse))
    if plan.scenario in ("broadcast", "mixed"):
        work.append(publisher.broadcast(plan.broadcast_rate, until, plan.count))
    if plan.scenario == "storm":
        work.append(_storms(plan, pool, notes))
    progress.phase(plan.scenario, plan.duration, lambda: time.monotonic() - (until - plan.duration), pool.received)
    if work:
        await asyncio.gather(*work)
    else:
        await _until(lambda: False, plan.duration)
    progress.done()


async def _storms(plan: LoadPlan, pool: WorkerPool, notes: list[str]) -> None:
    """Every stream drops and reconnects at once, `storm_rounds` times, while publishing goes on."""
    gap = plan.duration / (plan.storm_rounds + 1)
    for round_ in range(plan.storm_rounds):
        await asyncio.sleep(gap * 0.5)
        replies = await pool.ask([("reconnect", 60 + plan.connections / 100)] * pool.count, 120 + plan.connections / 100)
        back = sum(r[1] for r in replies)
        seconds = max(r[3] for r in replies) - min(r[2] for r in replies)
        notes.append(f"storm {round_ + 1}: {back} of {plan.connections} streams back in {seconds:.2f} s")
        await asyncio.sleep(gap * 0.5)


def _expected_deliveries(publisher: Publisher, users: list[str], plan: LoadPlan) -> int:
    accepted = publisher.accepted
    per_user = sum(len(accepted.per_user.get(u, ())) for u in users)
    return per_user + len(accepted.broadcasts) * len(users)


async def _until_quiet(counter: Callable[[], int], quiet: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last, since = counter(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        await asyncio.sleep(0.05)
        now = counter()
        if now != last:
            last, since = now, time.monotonic()


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _report(
    plan: LoadPlan,
    results: list[WorkerResult],
    publisher: Publisher,
    connected: int,
    connect_seconds: float | None,
    before,
    settled,
    load_start,
    load_end,
    publish_seconds: float,
    delivery_seconds: float,
    notes: list[str],
) -> LoadReport:
    tallies = [t for r in results for t in r.tallies]
    latencies = array("d")
    handshakes = array("d")
    rejections: dict[int, int] = {}
    errors: dict[str, int] = {}
    closes: dict[str, int] = {}
    for r in results:
        latencies.extend(r.latencies)
        handshakes.extend(r.connect_seconds)
        for table, add in ((rejections, r.rejections), (errors, r.errors), (closes, r.closes)):
            for key, n in add.items():
                table[key] = table.get(key, 0) + n
    accepted = publisher.accepted
    if plan.scenario == "collapse":
        verification = verify_latest(tallies, accepted)
        notes.append(
            f"collapse: {verification.delivered} of {verification.expected} accepted notifications delivered "
            f"({verification.expected - verification.delivered} replaced by a newer one with the key)"
        )
    else:
        verification = verify(tallies, accepted, expect_broadcasts=plan.scenario in ("broadcast", "mixed"))
    mib = 1024 * 1024
    per_stream = None
    if before.rss_bytes is not None and settled.rss_bytes is not None and connected:
        per_stream = (settled.rss_bytes - before.rss_bytes) / connected / 1024
    return LoadReport(
        scenario=plan.scenario,
        connections=plan.connections,
        connected=connected,
        connect_seconds=connect_seconds,
        connect_rate=connected / connect_seconds if connect_seconds else None,
        handshake_ms=percentiles_ms(handshakes),
        published=accepted.published,
        publish_seconds=publish_seconds,
        publishes_per_second=accepted.published / publish_seconds if publish_seconds else 0.0,
        publish_failures=accepted.failures,
        delivered=len(latencies),
        deliveries_per_second=len(latencies) / delivery_seconds if delivery_seconds else 0.0,
        latency_ms=percentiles_ms(latencies),
        verification=verification,
        rejections=rejections,
        errors=errors,
        closes=closes,
        server_cpu_percent=cpu_percent(load_start, load_end),
        server_cpu_us_per_delivery=_cpu_per_delivery(load_start, load_end, len(latencies)),
        server_cpu_us_per_connect=_cpu_per_delivery(before, settled, connected),
        server_rss_before_mib=before.rss_bytes / mib if before.rss_bytes is not None else None,
        server_rss_after_mib=settled.rss_bytes / mib if settled.rss_bytes is not None else None,
        memory_per_stream_kib=per_stream,
        notes=tuple(notes),
    )


def _cpu_per_delivery(start, end, delivered: int) -> float | None:
    if not delivered or start.cpu_seconds is None or end.cpu_seconds is None:
        return None
    return (end.cpu_seconds - start.cpu_seconds) / delivered * 1e6
