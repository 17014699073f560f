"""What `WAIT` costs a publish in cluster mode: broker.append latency, p50/p99.

Starts its own 3 masters + 3 replicas cluster (Debian redis-server, free ports, temp
dir) and its own single redis-server, publishes COUNT single-recipient notifications
one after another per mode, and prints one line per mode. Bounded: a few seconds.

    .venv/bin/python -m benchmarks.wait_latency [--count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sse_service.broker.base import BrokerListeners
from sse_service.broker.redis import RedisBroker
from sse_service.broker.redis_cluster import RedisClusterBroker
from sse_service.types import Notification
from tests.support.redis_cluster import local_cluster
from tests.support.redis_server import free_port, new_prefix, private_redis


async def measure(broker, count: int) -> list[float]:
    await broker.start(BrokerListeners(lambda e: None, lambda u, c: None, lambda: None))
    latencies = []
    try:
        for i in range(count):
            started = time.perf_counter()
            await broker.append("bench", [Notification((f"user-{i % 100}",), "n", '{"n": %d}' % i)])
            latencies.append(time.perf_counter() - started)
    finally:
        await broker.close()
    return latencies


def line(mode: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (
        f"{mode:<34} n={len(ordered)}  p50 {statistics.median(ordered) * 1000:.2f} ms  "
        f"p99 {p99 * 1000:.2f} ms  mean {statistics.fmean(ordered) * 1000:.2f} ms"
    )


async def main(count: int) -> None:
    with private_redis(free_port()) as url:
        print(line("redis (single, no WAIT)", await measure(RedisBroker(url, new_prefix(), 1000, 3600, 30), count)))
    with local_cluster() as cluster:
        for replicas in (0, 1):
            broker = RedisClusterBroker(cluster.url, new_prefix(), 1000, 3600, 30, wait_replicas=replicas, wait_timeout_ms=1000)
            print(line(f"redis-cluster WAIT {replicas} replica(s)", await measure(broker, count)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
