"""Poison pills a careless publisher can send: refused with a field-level 422, or made
harmless on the wire — and never a permanently broken inbox (issue 14, item 4). Both brokers."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.inprocess import PUBLISH, Served, open_stream

PUB = {"Authorization": f"Bearer {PUBLISH}", "Content-Type": "application/json"}


async def post_raw(served: Served, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{served.url}/v1/notifications", content=body, headers=PUB)


async def inbox(served: Served, user: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{served.url}/v1/notifications", headers=served.auth(user))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


@pytest.mark.parametrize(
    "data, where",
    [
        (b"NaN", "NaN"),
        (b"Infinity", "Infinity"),
        (b"-Infinity", "Infinity"),
        (b'{"x": [1, NaN]}', "NaN"),
        (b'"\\ud800"', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b'["a", "b\\udc00c"]', "surrogate"),
        (nested(100), "deeper"),
        (nested(1000), "deeper"),
    ],
)
async def test_poison_data_in_a_batch_is_422_naming_the_notifications_data(served: Served, data: bytes, where: str) -> None:
    body = b'{"notifications": [{"user_id": "pp", "data": 1}, {"user_id": "pp", "data": ' + data + b"}]}"
    r = await post_raw(served, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid"
    [problem] = r.json()["detail"]
    assert problem["field"] == "notifications[1].data"
    assert where in problem["message"]
    page = await inbox(served, "pp")
    assert page.status_code == 200 and page.json()["notifications"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"user_id": "pp", "data": 1, "idempotency_key": "k\\ud800"}', "idempotency_key"),
        (b'{"user_id": "pp", "data": 1, "event": "e\\udbff"}', "event"),
        (b'{"user_id": "pp", "data": {"a": NaN}}', "data"),
    ],
)
async def test_poison_in_other_fields_is_422_naming_that_field(served: Served, body: bytes, field: str) -> None:
    r = await post_raw(served, body)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["detail"]] == [field]


async def test_data_as_deep_as_max_data_depth_is_accepted_and_one_more_is_refused(make_server) -> None:
    async with make_server(max_data_depth=5) as served:
        ok = await post_raw(served, b'{"user_id": "deep", "data": ' + nested(5) + b"}")
        assert ok.status_code == 202, ok.text
        refused = await post_raw(served, b'{"user_id": "deep", "data": {"a": ' + nested(5) + b"}}")
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["field"] == "data"
        page = await inbox(served, "deep")
        assert [item["data"] for item in page.json()["notifications"]] == [json.loads(nested(5))]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
async def test_unicode_line_separators_never_travel_raw_and_arrive_unchanged(served: Served, separator: str) -> None:
    data = {"text": f"before{separator}after", f"key{separator}": separator}
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("seps")) as stream:
            connected = await stream.next()  # connected: its id is the position before
            ids = await served.publish({"user_id": "seps", "event": "note", "data": data})
            event = await stream.next()
        assert event.id == ids[0] and json.loads(event.data) == data
        # The raw bytes a `str.splitlines` parser would see: one data line, no raw separator.
        async with client.stream(
            "GET", f"{served.url}/v1/stream", headers={**served.auth("seps"), "Last-Event-ID": connected.id}
        ) as response:
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if ids[0].encode() in raw and raw.endswith(b"\n\n"):
                    break
    text = raw.decode()
    assert separator not in text
    block = text[text.index(f"id: {ids[0]}") :].split("\n\n")[0]
    data_lines = [line for line in block.splitlines() if line.startswith("data: ")]
    assert len(data_lines) == 1 and json.loads(data_lines[0][6:]) == data
    page = await inbox(served, "seps")
    assert page.json()["notifications"][-1]["data"] == data
