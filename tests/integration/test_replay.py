"""Reconnecting with Last-Event-ID: every missed event exactly once, in order, or `reset`."""

from __future__ import annotations

import asyncio

import httpx

from sse_service.types import EventId
from tests.support.inprocess import Served, open_stream


async def _ids(stream, n: int) -> list[str]:
    return [e.id for e in await stream.take(n)]


async def test_reconnect_replays_missed_events_then_continues_live_without_gap_or_duplicate(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("r")) as stream:
            await stream.next()
            first = await served.publish({"user_id": "r", "data": 0})
            assert await _ids(stream, 1) == first
        missed = await served.publish({"notifications": [{"user_id": "r", "data": i} for i in range(1, 6)]})
        [broadcast] = await served.publish({"broadcast": True, "data": "all"})
        headers = {**served.auth("r"), "Last-Event-ID": first[0]}
        async with open_stream(client, served.url, headers) as stream:
            assert (await stream.next()).event == "connected"
            replayed = await _ids(stream, len(missed) + 1)
            assert replayed[:-1] == missed
            # a broadcast's id is the user's cursor: this user's position, that broadcast's position
            assert EventId.parse(replayed[-1]) == EventId.parse(missed[-1]).with_broadcast(
                EventId.parse(broadcast).broadcast.epoch, EventId.parse(broadcast).broadcast.offset
            )
            live = await served.publish({"user_id": "r", "data": "live"})
            assert await _ids(stream, 1) == live


async def test_events_published_while_replaying_arrive_once(served: Served) -> None:
    """Publishing races the replay; the stream must still be exactly the stored sequence."""
    async with httpx.AsyncClient(timeout=10) as client:
        start = await served.publish({"user_id": "race", "data": "start"})
        backlog = await served.publish({"notifications": [{"user_id": "race", "data": i} for i in range(300)]})
        headers = {**served.auth("race"), "Last-Event-ID": start[0]}

        async def publish_more() -> list[str]:
            ids: list[str] = []
            for i in range(20):
                ids += await served.publish({"user_id": "race", "data": f"during {i}"}, client)
            return ids

        async with open_stream(client, served.url, headers) as stream:
            during = asyncio.create_task(publish_more())
            await stream.next()
            expected_count = len(backlog) + 20
            received = await _ids(stream, expected_count)
            during_ids = await during
        assert received == backlog + during_ids


async def test_query_parameter_last_event_id_works_like_the_header(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        first = await served.publish({"user_id": "q", "data": 1})
        second = await served.publish({"user_id": "q", "data": 2})
        async with open_stream(client, served.url, served.auth("q"), params={"last_event_id": first[0]}) as stream:
            await stream.next()
            assert await _ids(stream, 1) == second


async def test_cursor_outside_retention_gets_reset(make_server) -> None:
    async with make_server(history_size=3) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            old = await served.publish({"user_id": "t", "data": 0})
            await served.publish({"notifications": [{"user_id": "t", "data": i} for i in range(5)]})
            headers = {**served.auth("t"), "Last-Event-ID": old[0]}
            async with open_stream(client, served.url, headers) as stream:
                await stream.next()
                assert (await stream.next()).event == "reset"
                live = await served.publish({"user_id": "t", "data": "after reset"})
                assert (await stream.next()).id == live[0]
            inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("t"))).json()
            assert len(inbox["notifications"]) == 3


async def test_cursor_inside_retention_after_trimming_is_not_reset(make_server) -> None:
    async with make_server(history_size=3) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            ids = await served.publish({"notifications": [{"user_id": "t", "data": i} for i in range(6)]})
            headers = {**served.auth("t"), "Last-Event-ID": ids[3]}
            async with open_stream(client, served.url, headers) as stream:
                await stream.next()
                assert await _ids(stream, 2) == ids[4:]


async def test_malformed_last_event_id_is_422_json(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(
            f"{served.url}/v1/stream", headers={**served.auth("x"), "Last-Event-ID": "not-an-id\u00e9".encode("latin-1")}
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["field"] == "Last-Event-ID"


async def test_a_fresh_stream_names_its_starting_point_so_a_client_can_resume_before_any_event(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await served.publish({"user_id": "fresh", "data": "before"})
        async with open_stream(client, served.url, served.auth("fresh")) as stream:
            connected = await stream.next()
            assert connected.event == "connected" and connected.id
        missed = await served.publish({"user_id": "fresh", "data": "while away"})
        async with open_stream(client, served.url, {**served.auth("fresh"), "Last-Event-ID": connected.id}) as stream:
            resumed = await stream.next()
            assert resumed.event == "connected" and resumed.id == ""  # keeps the client's own cursor
            assert (await stream.next()).id == missed[0]


async def test_an_id_of_the_scheme_before_epochs_is_answered_with_reset_never_misread(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await served.publish({"user_id": "old", "data": 1})
        async with open_stream(
            client, served.url, {**served.auth("old"), "Last-Event-ID": "1795883740123-1795883740000001"}
        ) as stream:
            assert (await stream.next()).event == "connected"
            assert (await stream.next()).event == "reset"
            live = await served.publish({"user_id": "old", "data": 2})
            assert (await stream.next()).id == live[0]
        r = await client.get(f"{served.url}/v1/notifications", params={"after": "1795883740123-17"}, headers=served.auth("old"))
        assert r.status_code == 200 and r.json()["reset"] is True
        assert [n["data"] for n in r.json()["notifications"]] == [1, 2]


async def test_a_cursor_from_another_epoch_resets_the_stream_and_the_inbox(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        [mine] = await served.publish({"user_id": "epoch", "data": 1})
        foreign = "abcdefabcdef" + mine[12:]
        async with open_stream(client, served.url, {**served.auth("epoch"), "Last-Event-ID": foreign}) as stream:
            await stream.next()
            assert (await stream.next()).event == "reset"
        r = await client.get(f"{served.url}/v1/notifications", params={"after": foreign}, headers=served.auth("epoch"))
        assert r.json()["reset"] is True and [n["id"] for n in r.json()["notifications"]] == [mine]
        same = await client.get(f"{served.url}/v1/notifications", params={"after": mine}, headers=served.auth("epoch"))
        assert same.json() == {"notifications": [], "next": None}
