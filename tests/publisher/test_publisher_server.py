"""The publisher SDK against a real flagstream: batches, typed refusals, Retry-After from a
broker outage, and a server restart in the middle of a retry (stored exactly once)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from flagstream_publisher import (
    AsyncPublisher,
    InvalidNotification,
    Notification,
    PayloadTooLarge,
    Publisher,
    RetryPolicy,
    Unauthorized,
)
from tests.support.inprocess import PUBLISH, server_settings, serving
from tests.support.redis_server import free_port, private_redis, start_redis
from tests.support.server import start_server

from .relay import AnswerSwallowingRelay


def _user() -> str:
    return f"pub-{uuid.uuid4().hex[:10]}"


async def _inbox(url: str, token: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{url}/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["notifications"]


async def test_async_publisher_batches_up_to_max_batch_and_returns_ids_per_notification(served) -> None:
    a, b = _user(), _user()
    requests = []
    client = httpx.AsyncClient(event_hooks={"request": [lambda request: _count(requests, request)]})
    notifications = [Notification.to_user(a, {"n": n}) for n in range(4)] + [Notification.to_users([a, b], "both")]
    async with client, AsyncPublisher(served.url, PUBLISH, max_batch=2, client=client) as publisher:
        ids = await publisher.publish_many(notifications)
    assert len(requests) == 3
    assert [len(i) for i in ids] == [1, 1, 1, 1, 2]
    assert [n["id"] for n in await _inbox(served.url, served.token(a))] == [i[0] for i in ids]
    assert [n["id"] for n in await _inbox(served.url, served.token(b))] == [ids[4][1]]


async def _count(requests: list, request: httpx.Request) -> None:
    requests.append(request)


async def test_sync_publisher_and_an_explicit_idempotency_key(served) -> None:
    user = _user()
    notification = Notification.to_user(user, {"text": "once"}, idempotency_key="job-1")

    def publish_twice() -> tuple[list[str], list[str]]:
        with Publisher(served.url, PUBLISH) as publisher:
            return publisher.publish(notification), publisher.publish(notification)

    first, again = await asyncio.to_thread(publish_twice)
    assert first == again
    assert len(await _inbox(served.url, served.token(user))) == 1


async def test_refusals_are_typed_with_the_servers_field_details(served) -> None:
    user = _user()
    async with AsyncPublisher(served.url, PUBLISH, max_batch=2) as publisher:
        with pytest.raises(InvalidNotification) as invalid:
            await publisher.publish_many(
                [
                    Notification.to_user(user, 1),
                    Notification.to_user(user, 2),
                    Notification.to_user(user, 3),
                    Notification.to_user(user, 4, event="bad event!"),
                ]
            )
        with pytest.raises(PayloadTooLarge) as too_large:
            await publisher.publish(Notification.to_user(user, "x" * (served.settings.max_payload_bytes + 1)))
    assert invalid.value.status == 422
    assert [p.field for p in invalid.value.problems] == ["notifications[3].event"]
    assert len(invalid.value.published) == 2  # the first batch was stored
    assert too_large.value.problems[0].field == "notifications[0].data"
    async with AsyncPublisher(served.url, "wrong-token") as publisher:
        with pytest.raises(Unauthorized):
            await publisher.publish(Notification.to_user(user, 1))


@pytest.mark.slow
@pytest.mark.redis
async def test_a_broker_outage_is_retried_after_the_servers_retry_after(redis_prefix) -> None:
    with private_redis(free_port()) as redis_url:
        port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        async with serving(server_settings(broker="redis", redis_url=redis_url, redis_prefix=redis_prefix)) as served:
            sent: list[float] = []
            client = httpx.AsyncClient(event_hooks={"request": [lambda _r: _stamp(sent)]})
            _stop_redis(port)
            user = _user()
            async with (
                client,
                AsyncPublisher(
                    served.url, PUBLISH, client=client, retry=RetryPolicy(initial_delay=0.05, deadline=30)
                ) as publisher,
            ):
                task = asyncio.create_task(publisher.publish(Notification.to_user(user, "after the outage")))
                while len(sent) < 2:  # refused at least once with 503 + Retry-After: 1
                    await asyncio.sleep(0.02)
                restarted = await asyncio.to_thread(start_redis, port)
                ids = await asyncio.wait_for(task, 30)
            gaps = [b - a for a, b in zip(sent, sent[1:])]
            assert min(gaps) >= 0.95, gaps  # Retry-After: 1 honoured, not the 50 ms backoff
            assert [n["id"] for n in await _inbox(served.url, served.token(user))] == ids
        restarted.terminate()
        restarted.wait(5)


async def _stamp(sent: list[float]) -> None:
    sent.append(time.monotonic())


def _stop_redis(port: int) -> None:
    import redis

    try:
        redis.Redis(port=port).shutdown(nosave=True)
    except redis.ConnectionError:
        pass


@pytest.mark.slow
@pytest.mark.redis
async def test_a_server_restart_in_the_middle_of_a_retry_delivers_exactly_once(redis_url, redis_prefix) -> None:
    env = {
        "FLAGSTREAM_BROKER": "redis",
        "FLAGSTREAM_REDIS_URL": redis_url,
        "FLAGSTREAM_REDIS_PREFIX": redis_prefix,
        "FLAGSTREAM_PORT": str(free_port()),
    }
    server = await asyncio.to_thread(start_server, env)
    user = _user()
    relay = AnswerSwallowingRelay(int(env["FLAGSTREAM_PORT"]))
    try:
        async with (
            relay.running(),
            AsyncPublisher(
                relay.url, server.publish_token, retry=RetryPolicy(initial_delay=0.2, max_delay=1, deadline=60)
            ) as publisher,
        ):
            task = asyncio.create_task(publisher.publish(Notification.to_user(user, {"text": "exactly once"})))
            await asyncio.wait_for(relay.swallowed.wait(), 10)  # stored, but the answer never came back
            await asyncio.to_thread(server.stop)
            server = await asyncio.to_thread(start_server, env)  # same port, same Redis
            ids = await asyncio.wait_for(task, 60)
        inbox = await _inbox(server.url, server.user_token(user))
        assert [n["id"] for n in inbox] == ids  # one notification, the one first stored
        assert [n["data"] for n in inbox] == [{"text": "exactly once"}]
        assert relay.connections >= 2
    finally:
        await asyncio.to_thread(server.stop)
