"""CORS_ORIGINS and the stream cookie, over HTTP against a real in-process server.

(The same in real Chromium, page and service on two origins: tests/deploy/test_cross_origin_browser.py.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import open_stream, server_settings, serving

APP = "http://app.test:3000"
OTHER = "http://evil.test"
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization,last-event-id"}


@pytest.fixture
async def cors_served():
    async with serving(server_settings(cors_origins=f"{APP}, https://other-app.test", stream_cookie=True)) as s:
        yield s


@pytest.mark.parametrize("path", ["/v1/stream", "/v1/notifications"])
async def test_preflight_from_an_allowed_origin_is_answered(cors_served, path) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.options(cors_served.url + path, headers={"Origin": APP, **PREFLIGHT})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "GET" in r.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "last-event-id"} <= allowed
    assert "Origin" in r.headers["vary"]


async def test_preflight_from_another_origin_is_refused(cors_served) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.options(cors_served.url + "/v1/stream", headers={"Origin": OTHER, **PREFLIGHT})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    assert r.json()["error"] == "origin_not_allowed"


async def test_answers_name_the_allowed_origin_never_a_wildcard_and_expose_retry_after(cors_served) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(cors_served.url + "/v1/notifications", headers={"Origin": APP, **cors_served.auth("u1")})
        refused = await client.get(cors_served.url + "/v1/notifications", headers={"Origin": OTHER, **cors_served.auth("u1")})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert "Retry-After" in r.headers["access-control-expose-headers"]
    assert r.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in refused.headers  # the browser will not hand it to the page
    assert refused.headers["vary"] == "Origin"


async def test_stream_answers_carry_cors_headers(cors_served) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        async with open_stream(client, cors_served.url, {"Origin": APP, **cors_served.auth("u1")}) as stream:
            assert stream.response.headers["access-control-allow-origin"] == APP
            assert stream.response.headers["x-accel-buffering"] == "no"
            assert (await stream.next()).event == "connected"
        unauthorized = await client.get(cors_served.url + "/v1/stream", headers={"Origin": APP})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == APP  # the page can read why


async def test_without_cors_origins_no_cross_origin_headers_are_sent() -> None:
    async with serving(server_settings()) as s, httpx.AsyncClient() as client:
        r = await client.get(s.url + "/v1/notifications", headers={"Origin": APP, **s.auth("u1")})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_stream_session_sets_a_scoped_httponly_cookie_that_expires_with_the_token(cors_served) -> None:
    token = cors_served.token("cookie-user", ttl=600)
    async with httpx.AsyncClient() as client:
        r = await client.post(cors_served.url + "/v1/stream-session", headers={"Authorization": f"Bearer {token}", "Origin": APP})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == "cookie-user"
    assert r.headers["cache-control"] == "no-store"
    cookies = r.headers.get_list("set-cookie")
    assert sorted(c.split("Path=")[1].split(";")[0] for c in cookies) == ["/v1/notifications", "/v1/stream"]
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
        assert cookie.startswith(f"flagstream_stream={token};")
        assert "httponly" in attributes
        assert attributes["samesite"] == "SameSite=Lax"
        assert "secure" not in attributes  # plain http to 127.0.0.1 only
        assert 595 <= int(attributes["max-age"].split("=")[1]) <= 600


async def test_stream_session_cookie_is_secure_off_loopback(cors_served) -> None:
    token = cors_served.token("cookie-user")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            cors_served.url + "/v1/stream-session", headers={"Authorization": f"Bearer {token}", "Host": "rt.example.com"}
        )
    assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize("where", ["form", "query"])
async def test_stream_session_takes_the_token_from_the_header_only(cors_served, where) -> None:
    token = cors_served.token("cookie-user")
    async with httpx.AsyncClient() as client:
        if where == "form":
            r = await client.post(cors_served.url + "/v1/stream-session", data={"access_token": token})
        else:
            r = await client.post(cors_served.url + "/v1/stream-session", params={"access_token": token})
    assert r.status_code == 401 and "set-cookie" not in r.headers


async def test_stream_and_inbox_accept_the_cookie(cors_served) -> None:
    token = cors_served.token("cookie-user")
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.post(cors_served.url + "/v1/stream-session", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        client.cookies = httpx.Cookies({"flagstream_stream": token})
        async with open_stream(client, cors_served.url, {"Origin": APP}) as stream:
            connected = await stream.next()
            assert connected.event == "connected" and '"cookie-user"' in connected.data
            ids = await cors_served.publish({"user_id": "cookie-user", "data": {"n": 1}})
            assert (await stream.next()).id == ids[0]
        inbox = await client.get(cors_served.url + "/v1/notifications", headers={"Origin": APP})
        assert [item["id"] for item in inbox.json()["notifications"]] == ids
        cleared = await client.delete(cors_served.url + "/v1/stream-session")
    assert cleared.status_code == 204
    assert all("Max-Age=0" in c for c in cleared.headers.get_list("set-cookie"))


async def test_the_cookie_from_a_disallowed_origin_is_refused(cors_served) -> None:
    token = cors_served.token("cookie-user")
    async with httpx.AsyncClient(cookies={"flagstream_stream": token}) as client:
        stream = await client.get(cors_served.url + "/v1/stream", headers={"Origin": OTHER})
        inbox = await client.get(cors_served.url + "/v1/notifications", headers={"Origin": OTHER})
        same_origin = await client.get(cors_served.url + "/v1/notifications", headers={"Origin": cors_served.url})
    assert (stream.status_code, inbox.status_code) == (403, 403)
    assert same_origin.status_code == 200


async def test_the_cookie_is_ignored_unless_stream_cookie_is_on() -> None:
    async with serving(server_settings()) as s, httpx.AsyncClient(cookies={"flagstream_stream": s.token("u1")}) as client:
        stream = await client.get(s.url + "/v1/stream")
        inbox = await client.get(s.url + "/v1/notifications")
        exchange = await client.post(s.url + "/v1/stream-session", headers=s.auth("u1"))
    assert (stream.status_code, inbox.status_code, exchange.status_code) == (401, 401, 404)


async def test_an_expired_cookie_is_refused(cors_served) -> None:
    expired = cors_served.token("u1", ttl=-5)
    async with httpx.AsyncClient(cookies={"flagstream_stream": expired}) as client:
        r = await client.get(cors_served.url + "/v1/notifications")
        exchange = await client.post(cors_served.url + "/v1/stream-session", headers={"Authorization": f"Bearer {expired}"})
    assert (r.status_code, exchange.status_code) == (401, 401)


async def test_answers_without_an_origin_still_vary_on_it(cors_served) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(cors_served.url + "/v1/notifications", headers=cors_served.auth("u1"))
    assert r.headers["vary"] == "Origin" and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("trusted, secure", [("127.0.0.1/32", True), ("", False)])
async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(trusted, secure) -> None:
    """A TLS-terminating proxy talks plain http to 127.0.0.1: only its X-Forwarded-Proto,
    believed from TRUSTED_PROXIES, tells that the browser is on https."""
    settings = server_settings(stream_cookie=True, trusted_proxies=trusted)
    async with serving(settings) as s, httpx.AsyncClient() as client:
        r = await client.post(s.url + "/v1/stream-session", headers={**s.auth("u1"), "X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    assert all(("Secure" in c) is secure for c in r.headers.get_list("set-cookie"))
