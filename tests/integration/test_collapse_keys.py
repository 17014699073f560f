"""`collapse_key` end to end: the stream, replay and the inbox carry only the latest event
per key; COLLAPSE_WINDOW_MS holds a keyed event so a newer one replaces it in the queue."""

from __future__ import annotations

import httpx

from tests.support.inprocess import PUBLISH, Served, open_stream


async def test_inbox_and_replay_return_only_the_latest_event_per_collapse_key(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        [first] = await served.publish({"user_id": "c", "data": "first"}, client)
        await served.publish(
            {
                "notifications": [
                    {"user_id": "c", "data": {"done": 10}, "collapse_key": "upload:1"},
                    {"user_id": "c", "data": "other"},
                    {"user_id": "c", "data": {"done": 20}, "collapse_key": "upload:1"},
                ]
            },
            client,
        )
        [latest] = await served.publish({"user_id": "c", "data": {"done": 30}, "collapse_key": "upload:1"}, client)
        inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("c"))).json()
        assert [(n["data"], n.get("collapse_key")) for n in inbox["notifications"]] == [
            ("first", None),
            ("other", None),
            ({"done": 30}, "upload:1"),
        ]
        assert inbox["notifications"][-1]["id"] == latest
        headers = {**served.auth("c"), "Last-Event-ID": first}
        async with open_stream(client, served.url, headers) as stream:
            assert (await stream.next()).event == "connected"
            replayed = await stream.take(2)
            assert [e.data for e in replayed] == ['"other"', '{"done":30}']
            assert replayed[-1].id == latest
            [live] = await served.publish({"user_id": "c", "data": "live"}, client)
            assert (await stream.next()).id == live


async def test_the_collapse_window_delivers_only_the_newest_of_quick_updates(make_server) -> None:
    async with make_server(collapse_window_ms=2000) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("w")) as stream:
                await stream.next()
                await served.publish({"user_id": "w", "data": 1, "collapse_key": "p"}, client)
                await served.publish({"user_id": "w", "data": 2, "collapse_key": "p"}, client)
                [newest] = await served.publish({"user_id": "w", "data": 3, "collapse_key": "p"}, client)
                [plain] = await served.publish({"user_id": "w", "data": "plain"}, client)
                received = await stream.take(2)
                assert [e.id for e in received] == [newest, plain]
                assert [e.data for e in received] == ["3", '"plain"']


async def test_a_bad_collapse_key_is_refused_naming_the_field(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for bad in ("", "has space", "x" * 65, 5, "é"):
            r = await client.post(
                f"{served.url}/v1/notifications",
                headers={"Authorization": f"Bearer {PUBLISH}"},
                json={"notifications": [{"user_id": "c", "data": 1, "collapse_key": bad}]},
            )
            assert r.status_code == 422, bad
            assert r.json()["detail"][0]["field"] == "notifications[0].collapse_key"
