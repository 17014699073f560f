"""Hostile query parameters and headers get a 422 naming the field, never a 500
(issue 14, item 10): `limit`, `after`, `Last-Event-ID` / `last_event_id`. Both brokers."""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import Served

HOSTILE = [
    "\u00b2",  # a superscript two: str.isdigit() says yes, int() says no
    "1\u00b2",
    "\u0661",  # an Arabic-Indic one: int() would accept it
    "9" * 5000,  # past int()'s 4300-digit limit
    "-1",
    "0",
    "1001",
    " 5",
    "5\x00",
    "",
]


async def assert_inbox_refuses(served: Served, name: str, value: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/notifications", params={name: value}, headers=served.auth("q"))
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["detail"]] == [name]


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_hostile_limit_is_422_naming_limit(served: Served, value: str) -> None:
    await assert_inbox_refuses(served, "limit", value)


async def test_the_issue_s_raw_superscript_query_is_422(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/notifications?limit=%C2%B2", headers=served.auth("q"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "limit"


ID_HOSTILE = [
    "\u00b2-1",
    "1-\u00b2",
    "\u0661-\u0661",
    "9" * 5000,
    "1-" + "9" * 5000,
    "1" * 30 + "-" + "1" * 30,
    "x",
    "1-2-3",
    "-",
    "\u00e9-1",
    "1 -1",
]


@pytest.mark.parametrize("value", ID_HOSTILE)
async def test_a_hostile_after_is_422_naming_after(served: Served, value: str) -> None:
    await assert_inbox_refuses(served, "after", value)


@pytest.mark.parametrize("value", ID_HOSTILE)
async def test_a_hostile_last_event_id_query_is_422(served: Served, value: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/stream", params={"last_event_id": value}, headers=served.auth("q"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "Last-Event-ID"


@pytest.mark.parametrize("value", [b"\xc2\xb2-1", b"1-\xd9\xa1", b"9" * 5000, b"\xff\xfe-1"])
async def test_a_hostile_last_event_id_header_is_422(served: Served, value: bytes) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/stream", headers=[*served.auth("q").items(), ("Last-Event-ID", value)])
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "Last-Event-ID"
