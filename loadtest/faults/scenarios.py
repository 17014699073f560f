"""The faults, and the run around each: listeners connected, rounds published all along,
the fault injected and healed, then recovery measured and every user's notifications checked.

Recovery time: from the moment the fault is healed (or struck, when there is nothing to
heal) until every user has received the first round accepted after it.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from sse_service.auth import mint_token

from .lossy_proxy import LossyProxy
from .stalled import StalledStream
from .topology import Topology, TopologySpec
from .traffic import Listeners, Publisher, Verdict, verify


@dataclass
class FaultRun:
    topology: Topology
    listeners: Listeners
    publisher: Publisher
    hold: float
    figures: dict[str, float | str] = field(default_factory=dict)

    async def rounds(self, at_least: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.publisher.accepted < at_least:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.publisher.accepted} of {at_least} rounds accepted")
            await asyncio.sleep(0.05)


Inject = Callable[[FaultRun], Awaitable[float]]  # hurts, heals, returns when it healed (monotonic)


@dataclass(frozen=True)
class Fault:
    name: str
    spec: TopologySpec
    inject: Inject
    lossy_publisher: bool = False
    description: str = ""


@dataclass(frozen=True)
class FaultOutcome:
    fault: str
    users: int
    rounds: int
    recovery_s: float | None
    longest_silence_s: float
    verdict: Verdict
    publish_failures: dict[str, int]
    endings: dict[str, int]
    figures: dict[str, float | str]


async def kill_instance(run: FaultRun) -> float:
    await asyncio.to_thread(run.topology.instances[0].kill)
    return time.monotonic()


async def rolling_restart(run: FaultRun) -> float:
    for instance in run.topology.instances:
        await asyncio.to_thread(instance.terminate)
        await asyncio.to_thread(instance.start)
    return time.monotonic()


async def pause_redis(run: FaultRun) -> float:
    redis = run.topology.redis
    assert redis is not None
    redis.signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(run.hold)
    finally:
        redis.signal(signal.SIGCONT)
    return time.monotonic()


async def restart_redis(run: FaultRun) -> float:
    redis = run.topology.redis
    assert redis is not None
    await asyncio.to_thread(redis.kill)
    await asyncio.sleep(min(run.hold, 1.0))
    await asyncio.to_thread(redis.start)
    return time.monotonic()


async def wipe_redis_with_users_offline(run: FaultRun) -> float:
    """Some users go offline, miss rounds, Redis restarts empty, the new counter passes
    their cursors, then they come back with those cursors."""
    users = list(run.listeners.received)
    offline = users[: max(1, len(users) // 5)]
    cursors = {user: await run.listeners.stop(user) for user in offline}
    await run.rounds(run.publisher.accepted + 3)
    before = run.publisher.accepted
    healed_at = await restart_redis(run)
    await run.rounds(2 * before + 3)  # ids issued after the wipe pass the old cursors
    for user in offline:
        run.listeners.start(user, cursors[user])
    run.figures["offline_users"] = len(offline)
    return healed_at


async def black_hole(run: FaultRun) -> float:
    """Nothing from the server gets out; the server must find its dead peers by itself."""
    namespace, instance = run.topology.netns, run.topology.instances[0]
    assert namespace is not None
    idle = socket.create_connection((instance.host, instance.port))  # idle: only keepalive can find it
    try:
        start = time.monotonic()
        namespace.black_hole()
        while await asyncio.to_thread(namespace.established, instance.port):
            if time.monotonic() - start > 60:
                raise RuntimeError("the server still holds connections to peers that vanished 60 s ago")
            await asyncio.sleep(0.2)
        run.figures["dead_peers_dropped_s"] = round(time.monotonic() - start, 2)
        await asyncio.sleep(max(0.0, run.hold - (time.monotonic() - start)))
        namespace.heal()
        return time.monotonic()
    finally:
        idle.close()


async def slow_consumer(run: FaultRun) -> float:
    """One user stops reading while big notifications keep coming; the others must not notice."""
    topology = run.topology
    user = "slow-consumer"
    token = mint_token(topology.jwt_secret, user, ttl=3600)
    stalled = await StalledStream.open(topology.instances[0].url, token)
    bulk = Publisher(topology.url, topology.publish_token, [user], pad=60_000)
    try:
        await stalled.read_until(b"event: connected", 10)
        cut_at = None
        while cut_at is None:
            await bulk.publish_round()
            if bulk.accepted % 10 == 0 and await _overflows(topology) > 0:
                cut_at = time.monotonic()
            if bulk.accepted > 2000:
                raise RuntimeError("the stalled stream was never cut")
        for _ in range(5):  # accepted after the cut: only a resumed stream has them
            await bulk.publish_round()
        await stalled.read_to_end(timeout=30)
        events = stalled.events()
        run.figures["slow_stream_last_event"] = events[-1].event if events else "none"
        run.figures["slow_rounds_before_cut"] = len(stalled.markers(user))
        resumed = Listeners(topology.url, topology.jwt_secret, [user])
        resumed.received[user].rounds.extend(stalled.markers(user))
        last_id = next((e.id for e in reversed(events) if e.id), None)
        resumed.start(user, last_id)
        complete = await resumed.until(lambda: set(range(1, bulk.accepted + 1)) <= set(resumed.received[user].rounds), 30)
        slow = verify(bulk, resumed)
        run.figures["slow_resumed_complete"] = "yes" if complete else "no"
        run.figures["slow_lost"], run.figures["slow_duplicated"] = slow.lost, slow.duplicated
        run.figures["slow_out_of_order"] = slow.out_of_order
        await resumed.close()
        return cut_at
    finally:
        stalled.close()
        await bulk.close()


async def _overflows(topology: Topology) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(topology.instances[0].url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith('sse_connections_closed_total{reason="overflow"}'):
            return float(line.split()[-1])
    return 0.0


async def nothing(run: FaultRun) -> float:
    await asyncio.sleep(run.hold)
    return time.monotonic()


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("instance-kill", TopologySpec(), kill_instance, description="SIGKILL one of two instances behind HAProxy"),
        Fault("rolling-restart", TopologySpec(), rolling_restart, description="SIGTERM, restart, one instance after the other"),
        Fault("redis-pause", TopologySpec(), pause_redis, description="SIGSTOP Redis for the hold time, then SIGCONT"),
        Fault(
            "redis-restart-aof",
            TopologySpec(redis="aof"),
            restart_redis,
            description="SIGKILL Redis (AOF, fsync always) and start it again",
        ),
        Fault(
            "redis-restart-wipe",
            TopologySpec(),
            wipe_redis_with_users_offline,
            description="SIGKILL Redis without persistence while some users are offline",
        ),
        Fault(
            "black-hole",
            TopologySpec(instances=1, redis=None, haproxy=False, namespace=True),
            black_hole,
            description="drop every packet the server sends (network namespace, blackhole route)",
        ),
        Fault(
            "slow-consumer",
            TopologySpec(instances=1, redis=None, haproxy=False, queue_size=64),
            slow_consumer,
            description="one user stops reading while big notifications keep coming",
        ),
        Fault(
            "lost-responses",
            TopologySpec(instances=1, haproxy=False),
            nothing,
            lossy_publisher=True,
            description="every other publish response lost; the publisher retries with the same keys",
        ),
    )
}


async def run_fault(
    fault: Fault, users: int, *, hold: float = 3.0, interval: float = 0.2, drain_timeout: float = 30.0
) -> FaultOutcome:
    async with Topology(fault.spec) as topology:
        user_ids = [f"user-{index}" for index in range(users)]
        proxy = None
        publish_url = topology.url
        if fault.lossy_publisher:
            instance = topology.instances[0]
            proxy = LossyProxy(instance.host, instance.port)
            publish_url = await proxy.start()
        listeners = Listeners(topology.url, topology.jwt_secret, user_ids)
        publisher = Publisher(publish_url, topology.publish_token, user_ids)
        run = FaultRun(topology, listeners, publisher, hold)
        stop = asyncio.Event()
        publishing: asyncio.Task[None] | None = None
        try:
            listeners.start_all()
            await listeners.connected()
            publishing = asyncio.create_task(publisher.run(stop, interval), name="publisher")
            await run.rounds(3)
            healed_at = await fault.inject(run)
            recovery = await _recovery(run, healed_at)
            await run.rounds(publisher.accepted + 3)
            stop.set()
            await publishing
            # Each stream is in order: once every user has the last round, anything missing is lost.
            await listeners.until(lambda: listeners.have_round(publisher.accepted), drain_timeout)
            if proxy is not None:
                run.figures["responses_lost"] = proxy.lost
            return FaultOutcome(
                fault.name,
                users,
                publisher.accepted,
                recovery,
                round(listeners.longest_silence(), 2),
                verify(publisher, listeners),
                dict(publisher.failures),
                listeners.endings(),
                run.figures,
            )
        finally:
            stop.set()
            if publishing is not None and not publishing.done():
                publishing.cancel()
            await asyncio.gather(*(t for t in [publishing] if t is not None), return_exceptions=True)
            await listeners.close()
            await publisher.close()
            if proxy is not None:
                await proxy.stop()


async def _recovery(run: FaultRun, healed_at: float) -> float | None:
    """Seconds from `healed_at` until every user has the first round accepted after it."""
    deadline = healed_at + 60
    while not run.publisher.rounds or run.publisher.rounds[-1].accepted_at < healed_at:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.02)
    first = next(r for r in run.publisher.rounds if r.accepted_at >= healed_at)
    if not await run.listeners.until(lambda: run.listeners.have_round(first.n), deadline - time.monotonic()):
        return None
    return round(time.monotonic() - healed_at, 2)
