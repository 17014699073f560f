"""The upgrade path of docs/deploy.md, for real: two instances on one Redis behind nginx or
HAProxy (the shipped configurations), clients streaming through the proxy, a publisher
(the SDK) publishing all along, and each instance restarted in turn (SIGTERM, drain, start).
Every client ends with exactly the notifications published to its user, in order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict

import pytest

from flagstream_client import BackoffPolicy, ClientOptions, NotificationClient
from flagstream_publisher import AsyncPublisher, Notification, RetryPolicy
from tests.support.redis_server import free_port
from tests.support.server import RunningServer, start_server

from .proxies import running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(180)]
USERS = 8
FAST = ClientOptions(
    backoff=BackoffPolicy(minimum=0.1, maximum=1.0), poll_interval=0.2, stream_retry_after=1.0, connect_timeout=5
)


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_a_rolling_restart_behind_a_proxy_loses_and_duplicates_nothing(kind, redis_url, redis_prefix) -> None:
    shared = {
        "FLAGSTREAM_BROKER": "redis",
        "FLAGSTREAM_REDIS_URL": redis_url,
        "FLAGSTREAM_REDIS_PREFIX": redis_prefix,
        "FLAGSTREAM_PING_INTERVAL": "1",
        "FLAGSTREAM_RETRY_MS": "300",
        "FLAGSTREAM_SHUTDOWN_GRACE": "5",
        "FLAGSTREAM_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    envs = [{**shared, "FLAGSTREAM_PORT": str(free_port())} for _ in range(2)]
    servers: list[RunningServer] = [await asyncio.to_thread(start_server, env) for env in envs]
    users = [f"rolling-{uuid.uuid4().hex[:8]}-{n}" for n in range(USERS)]
    published: dict[str, list[str]] = defaultdict(list)
    received: dict[str, list[str]] = defaultdict(list)
    try:
        with running_proxy(kind, [s.url for s in servers], read_timeout_s=3) as proxy:
            clients = [NotificationClient(proxy.url, servers[0].user_token(user), options=FAST) for user in users]
            readers = [asyncio.create_task(_collect(client, received[user])) for client, user in zip(clients, users)]
            stop_publishing = asyncio.Event()
            async with AsyncPublisher(
                proxy.url, servers[0].publish_token, retry=RetryPolicy(initial_delay=0.1, max_delay=1, deadline=60)
            ) as publisher:
                await _until(lambda: all(c.stats.connects >= 1 for c in clients), "every client streaming")
                publishing = asyncio.create_task(_publish_until(publisher, users, published, stop_publishing))
                for index, env in enumerate(envs):
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(servers[index].stop)  # SIGTERM: drain, exit
                    servers[index] = await asyncio.to_thread(start_server, env)
                await asyncio.sleep(1.0)
                stop_publishing.set()
                await publishing
            await _until(lambda: all(len(received[u]) >= len(published[u]) for u in users), "every notification delivered", 30)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
    total = sum(len(ids) for ids in published.values())
    print(f"{kind}: {total} notifications published during two restarts; reconnects {sum(c.stats.reconnects for c in clients)}")
    assert total > 20
    for user in users:
        assert received[user] == published[user], user


async def _collect(client: NotificationClient, into: list[str]) -> None:
    async for notification in client:
        into.append(notification.id)


async def _publish_until(
    publisher: AsyncPublisher, users: list[str], published: dict[str, list[str]], stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        user = users[n % len(users)]
        (ids,) = await publisher.publish_many([Notification.to_user(user, {"n": n})])
        published[user].append(ids[0])
        n += 1
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def _until(predicate, what: str, timeout: float = 15) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")
