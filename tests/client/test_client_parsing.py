"""The Python client reads every event a WHATWG parser reads, and never counts an id as
seen before its data parsed (issue 14, item 4).

The peer here is a scripted SSE endpoint (httpx.MockTransport): the real server can no
longer send what these tests need — a cut event, a raw U+2028 — so a stand-in plays the
part of an older server or a broken intermediary."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from flagstream_client import BackoffPolicy, ClientOptions, NotificationClient

from .support import running

FAST = ClientOptions(backoff=BackoffPolicy(minimum=0.01, maximum=0.05), connect_timeout=5)
CONNECTED = b'event: connected\ndata: {"ping_interval": 30}\n\n'


def sse_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


async def test_an_event_whose_data_does_not_parse_is_not_marked_seen_and_is_read_again_on_resume() -> None:
    resumed_from: list[str | None] = []

    def peer(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/stream":
            return httpx.Response(200, json={"notifications": [], "next": None})
        resumed_from.append(request.headers.get("last-event-id"))
        if len(resumed_from) == 1:  # the event arrives cut (as a splitlines parser leaves it)
            return sse_response(CONNECTED + b'id: 1-5\nevent: note\ndata: {"text": "cut\n\n')
        if request.headers.get("last-event-id") == "1-5":
            return sse_response(CONNECTED)  # resumed after it: it is gone for good
        return sse_response(CONNECTED + b'id: 1-5\nevent: note\ndata: {"text": "whole"}\n\n')

    async with httpx.AsyncClient(transport=httpx.MockTransport(peer)) as http:
        client = NotificationClient("http://peer", "token", options=FAST, http=http)
        async with running(client) as got:
            notification = await got.next(timeout=5)
    assert (notification.id, notification.data) == ("1-5", {"text": "whole"})
    assert resumed_from[1] != "1-5"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
async def test_raw_unicode_line_separators_in_data_arrive_unchanged(separator: str) -> None:
    body = CONNECTED + f'id: 2-7\nevent: note\ndata: {{"text": "a{separator}b"}}\n\n'.encode()
    served = asyncio.Event()

    def peer(request: httpx.Request) -> httpx.Response:
        if served.is_set():
            return sse_response(CONNECTED)
        served.set()
        return sse_response(body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(peer)) as http:
        client = NotificationClient("http://peer", "token", options=FAST, http=http)
        async with running(client) as got:
            notification = await got.next(timeout=5)
    assert (notification.id, notification.data) == ("2-7", {"text": f"a{separator}b"})
