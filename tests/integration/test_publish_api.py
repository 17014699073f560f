"""POST and GET /v1/notifications: contract, bad input, idempotency — on both brokers."""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import PUBLISH, Served

PUB = {"Authorization": f"Bearer {PUBLISH}"}


async def post(served: Served, body, headers=PUB, **kw) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        if isinstance(body, (bytes, str)):
            return await client.post(f"{served.url}/v1/notifications", content=body, headers=headers, **kw)
        return await client.post(f"{served.url}/v1/notifications", json=body, headers=headers, **kw)


@pytest.mark.parametrize(
    "body, field",
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        ({"data": 1}, "user_id"),
        ({"user_id": "u", "user_ids": ["v"], "data": 1}, "user_id"),
        ({"user_id": "", "data": 1}, "user_id"),
        ({"user_id": 7, "data": 1}, "user_id"),
        ({"user_id": "u"}, "data"),
        ({"user_id": "u", "data": 1, "event": "has space"}, "event"),
        ({"user_id": "u", "data": 1, "event": "x" * 65}, "event"),
        ({"user_id": "u", "data": 1, "colour": "red"}, "colour"),
        ({"broadcast": False, "data": 1}, "broadcast"),
        ({"user_ids": [], "data": 1}, "user_ids"),
        ({"user_id": "u", "data": 1, "idempotency_key": 5}, "idempotency_key"),
        ({"notifications": []}, "notifications"),
        ({"notifications": [{"user_id": "u", "data": 1}, {"user_id": "u"}]}, "notifications[1].data"),
    ],
)
async def test_invalid_bodies_are_refused_whole_with_422_naming_the_field(served: Served, body, field: str) -> None:
    r = await post(served, body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert r.json()["error"] == "invalid"
    assert any(d["field"] == field for d in detail), detail


async def test_a_refused_batch_stores_nothing(served: Served) -> None:
    r = await post(served, {"notifications": [{"user_id": "whole", "data": 1}, {"user_id": "whole", "event": "!", "data": 2}]})
    assert r.status_code == 422
    async with httpx.AsyncClient(timeout=10) as client:
        inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("whole"))).json()
    assert inbox == {"notifications": [], "next": None}


async def test_oversized_data_is_413_and_too_many_is_422(make_server) -> None:
    async with make_server(max_payload_bytes=100, max_batch=3) as served:
        r = await post(served, {"user_id": "u", "data": "x" * 200})
        assert r.status_code == 413 and r.json()["detail"][0]["field"] == "data"
        r = await post(served, {"notifications": [{"user_id": "u", "data": 1}] * 4})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "notifications"
        r = await post(served, b'{"user_id": "u", "data": "' + b"y" * 400_000 + b'"}')
        assert r.status_code == 413 and "error" in r.json()


async def test_publish_needs_the_publisher_credential(served: Served) -> None:
    assert (await post(served, {"user_id": "u", "data": 1}, headers={})).status_code == 401
    user_token = {"Authorization": f"Bearer {served.token('u')}"}
    r = await post(served, {"user_id": "u", "data": 1}, headers=user_token)
    assert r.status_code == 401 and "publish" in r.json()["detail"]


async def test_a_jwt_with_publish_scope_may_publish(served: Served) -> None:
    from sse_service.auth import mint_token

    for scope in ("read publish", ["publish"]):
        token = (
            mint_token(served.settings.jwt_secret, "svc", scope=scope)
            if isinstance(scope, str)
            else mint_token(served.settings.jwt_secret, "svc", scp=scope)
        )
        r = await post(served, {"user_id": "u", "data": 1}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202, r.text


async def test_repeated_idempotency_key_returns_the_original_ids_and_stores_once(served: Served) -> None:
    body = {"user_ids": ["i1", "i2"], "data": {"charge": 1}, "idempotency_key": "order-42"}
    first = (await post(served, body)).json()["ids"]
    again = await post(served, body)
    assert again.status_code == 202 and again.json()["ids"] == first
    async with httpx.AsyncClient(timeout=10) as client:
        inbox = (await client.get(f"{served.url}/v1/notifications", headers=served.auth("i1"))).json()
    assert [n["id"] for n in inbox["notifications"]] == [first[0]]


async def test_inbox_pages_oldest_first_with_next_cursor(served: Served) -> None:
    ids = (await post(served, {"notifications": [{"user_id": "pager", "data": i} for i in range(5)]})).json()["ids"]
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{served.url}/v1/notifications"
        page1 = (await client.get(url, params={"limit": 2}, headers=served.auth("pager"))).json()
        assert [n["id"] for n in page1["notifications"]] == ids[:2] and page1["next"] == ids[1]
        page2 = (await client.get(url, params={"limit": 10, "after": page1["next"]}, headers=served.auth("pager"))).json()
        assert [n["data"] for n in page2["notifications"]] == [2, 3, 4]
        item = page2["notifications"][0]
        assert set(item) == {"id", "event", "data", "created_at"} and item["event"] == "notification"
        empty = (await client.get(url, params={"after": ids[-1]}, headers=served.auth("pager"))).json()
        assert empty == {"notifications": [], "next": None}


@pytest.mark.parametrize(
    "params, field",
    [({"after": "bogus"}, "after"), ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "ten"}, "limit")],
)
async def test_bad_inbox_parameters_are_422(served: Served, params, field) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/notifications", params=params, headers=served.auth("u"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field


async def test_unknown_routes_and_methods_answer_json(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/nope")
        assert r.status_code == 404 and r.json()["error"]
        r = await client.post(f"{served.url}/v1/stream")
        assert r.status_code == 405 and r.json()["error"]
