"""The stream as a user sees it, on both brokers, over real sockets."""

from __future__ import annotations

import json

import httpx

from sse_service.types import EventId
from tests.support.inprocess import Served, open_stream


async def test_connected_comes_first_with_retry_and_connection_details(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("alice")) as stream:
            assert stream.response.status_code == 200
            assert stream.response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert stream.response.headers["cache-control"] == "no-cache"
            assert stream.response.headers["x-accel-buffering"] == "no"
            first = await stream.next()
            assert first.event == "connected"
            assert first.retry == served.settings.retry_ms
            body = json.loads(first.data)
            assert body["user_id"] == "alice"
            assert body["ping_interval"] == served.settings.ping_interval
            assert body["server_time"].endswith("Z") and body["connection_id"]


async def test_published_notification_arrives_with_its_id_and_exact_data(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("alice")) as stream:
            await stream.next()
            payload = {"text": "line one\nline two\r\ndata: fake\n\nid: 666", "n": [1, 2]}
            [event_id] = await served.publish({"user_id": "alice", "event": "order.shipped", "data": payload})
            event = await stream.next()
            assert (event.event, event.id) == ("order.shipped", event_id)
            assert json.loads(event.data) == payload


async def test_other_users_do_not_see_my_notifications(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("bob")) as bob:
            await bob.next()
            await served.publish({"user_id": "alice", "data": {"secret": 1}})
            [mine] = await served.publish({"user_id": "bob", "data": {"for": "bob"}})
            event = await bob.next()
            assert event.id == mine


async def test_broadcast_reaches_every_stream_and_every_inbox_as_one_broadcast(served: Served) -> None:
    """One id in the publish answer; each user sees it under its own cursor (that user's
    position, the broadcast's position), the same in its stream and its inbox."""
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("a")) as a, open_stream(client, served.url, served.auth("b")) as b:
            await a.next(), await b.next()
            ids = await served.publish({"broadcast": True, "event": "maintenance", "data": {"at": "22:00"}})
            assert len(ids) == 1
            seen = {"a": (await a.next()).id, "b": (await b.next()).id}
        published = EventId.parse(ids[0]).broadcast
        assert all(EventId.parse(i).broadcast == published for i in seen.values())
        for user in ("a", "b", "never-connected"):
            inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth(user))).json()
            [item] = inbox["notifications"]
            assert EventId.parse(item["id"]).broadcast == published
            assert item["id"] == seen.get(user, item["id"])


async def test_several_user_ids_get_one_id_each_in_input_order(served: Served) -> None:
    ids = await served.publish(
        {
            "notifications": [
                {"user_ids": ["u1", "u2"], "data": 1},
                {"user_id": "u3", "data": 2},
            ]
        }
    )
    assert len(ids) == 3
    async with httpx.AsyncClient(timeout=10) as client:
        for user, expected in (("u1", ids[0]), ("u2", ids[1]), ("u3", ids[2])):
            inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth(user))).json()
            assert [n["id"] for n in inbox["notifications"]] == [expected]
