"""A dashboard session never outlives the admin credential it was opened with."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest

from sse_service.auth import mint_token
from tests.support.inprocess import ADMIN, SECRET, Served, server_settings, serving


@pytest.fixture
async def memory_served(gate) -> AsyncIterator[Served]:
    async with serving(server_settings(broker="memory"), flag_gate=gate) as served:
        yield served


def session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


@pytest.mark.slow
async def test_a_short_lived_admin_token_gives_a_session_that_ends_with_it(memory_served: Served) -> None:
    url = memory_served.url
    admin = mint_token(SECRET, "ops", ttl=4, scope="admin")
    async with httpx.AsyncClient(timeout=10) as client:
        signed_in = await client.get(f"{url}/dashboard", params={"access_token": admin})
        assert signed_in.status_code == 303
        assert 0 < int(session_cookie(signed_in)["flagstream_dashboard"]["max-age"]) <= 4
        assert (await client.get(f"{url}/dashboard")).status_code == 200
        deadline = time.monotonic() + 15
        cookies = dict(client.cookies)
        while True:  # the token's exp is wall-clock: poll for it
            # a client that ignores Max-Age (or a copied cookie) keeps sending it
            async with httpx.AsyncClient(timeout=10, cookies=cookies) as stubborn:
                if (await stubborn.get(f"{url}/dashboard")).status_code == 401:
                    assert (await stubborn.get(f"{url}/dashboard/stream")).status_code == 401
                    break
            assert time.monotonic() < deadline, "the session outlived the admin token"
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_the_dashboard_feed_ends_when_the_session_does(memory_served: Served) -> None:
    admin = mint_token(SECRET, "ops", ttl=2, scope="admin")
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(f"{memory_served.url}/dashboard", params={"access_token": admin})
        async with client.stream("GET", f"{memory_served.url}/dashboard/stream") as feed:
            assert feed.status_code == 200
            ended = asyncio.ensure_future(feed.aread())
            await asyncio.wait_for(ended, 10)  # the feed closes by itself within a push of exp


async def test_logout_ends_the_session(memory_served: Served) -> None:
    url = memory_served.url
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(f"{url}/dashboard", params={"access_token": ADMIN})
        assert (await client.get(f"{url}/dashboard")).status_code == 200
        logout = await client.post(f"{url}/dashboard/logout")
        assert logout.status_code == 303 and logout.headers["location"] == "/dashboard"
        cleared = session_cookie(logout)["flagstream_dashboard"]
        assert cleared.value == "" and cleared["max-age"] == "0" and cleared["path"] == "/dashboard"
        assert (await client.get(f"{url}/dashboard")).status_code == 401
        page = (await client.get(f"{url}/dashboard", params={"access_token": ADMIN}, follow_redirects=True)).text
        assert 'action="/dashboard/logout"' in page and 'method="post"' in page


@pytest.mark.parametrize(
    "host, secure",
    [
        ("127.0.0.1", False),
        ("localhost:8080", False),
        ("[::1]:8080", False),
        ("flagstream.example.com", True),
        ("10.0.0.5:8080", True),
    ],
)
async def test_the_session_cookie_is_secure_except_on_loopback(memory_served: Served, host: str, secure: bool) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{memory_served.url}/dashboard", params={"access_token": ADMIN}, headers={"Host": host})
    assert r.status_code == 303
    assert bool(session_cookie(r)["flagstream_dashboard"]["secure"]) is secure
