"""/v1/admin/stats and the /dashboard session, as an admin sees them, over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_sse import EventSource

from tests.support.inprocess import ADMIN, Served, open_stream, server_settings, serving

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def memory_served(gate) -> AsyncIterator[Served]:
    async with serving(server_settings(broker="memory"), flag_gate=gate) as served:
        yield served


async def poll(fetch, until, timeout: float = 15.0):
    """Call `fetch` until `until(result)` holds, or fail with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await fetch()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met before the deadline; last: {result}")
        await asyncio.sleep(0.1)


async def test_stats_need_an_admin(memory_served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        missing = await client.get(f"{memory_served.url}/v1/admin/stats")
        as_user = await client.get(f"{memory_served.url}/v1/admin/stats", headers=memory_served.auth("alice"))
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert as_user.status_code == 401 and "admin" in as_user.json()["detail"]


async def test_stats_show_streams_users_deliveries_and_latency(memory_served: Served) -> None:
    served = memory_served
    async with httpx.AsyncClient(timeout=10) as client:
        async with (
            open_stream(client, served.url, served.auth("alice")) as first,
            open_stream(client, served.url, served.auth("alice")) as second,
            open_stream(client, served.url, served.auth("bob")) as third,
        ):
            for stream in (first, second, third):
                assert (await stream.next()).event == "connected"
            for n in range(5):
                await served.publish({"user_id": "alice", "data": {"n": n}}, client)
            await first.take(5)
            await second.take(5)

            async def stats() -> dict:
                response = await client.get(f"{served.url}/v1/admin/stats", headers=ADMIN_AUTH)
                assert response.status_code == 200
                return response.json()

            body = await poll(stats, lambda b: b["delivered_per_second"] > 0)
    assert body["connections"] == 3
    assert body["users"] == 2
    assert body["top_users"][0] == {"user_id": "alice", "connections": 2}
    assert body["delivered"] == 10
    assert body["published"] == 5
    assert body["delivered_per_second"] == pytest.approx(1.0)  # 10 deliveries over the last 10 s
    assert 0 < body["latency_ms"]["p50"] <= body["latency_ms"]["p99"] < 1000
    assert body["errors"] == {"total": 0, "per_second": 0.0, "by_stage": {}}
    assert body["connections_opened"] == 3
    assert body["slow_consumer_disconnects"] == 0
    assert body["flags"]["flag"] == "sse-delivery" and body["flags"]["state"] == "fresh"
    # The test gate does not report evaluations (the real gates do, through the same metrics).
    assert body["flags"]["evaluations"] == {"enabled": 0, "disabled": 0, "fallback": 0}
    assert body["rollout"] == {"flag": "sse-delivery", "enabled_share": None, "phase": None, "percentage": None}
    assert body["process"]["rss_bytes"] > 0


async def test_dashboard_trades_the_token_for_a_strict_httponly_cookie(memory_served: Served) -> None:
    url = memory_served.url
    async with httpx.AsyncClient(timeout=10) as client:
        anonymous = await client.get(f"{url}/dashboard")
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        wrong = await client.get(f"{url}/dashboard", params={"access_token": memory_served.token("alice")})
        assert wrong.status_code == 401
        assert "set-cookie" not in wrong.headers

        signed_in = await client.get(f"{url}/dashboard", params={"access_token": ADMIN})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/dashboard"  # the token leaves the address bar
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
        assert ADMIN not in cookie

        page = await client.get(f"{url}/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script src="/static/dashboard.js"' in page.text
        for asset in ("/static/dashboard.js", "/static/dashboard.css"):
            assert (await client.get(f"{url}{asset}")).status_code == 200

        async with client.stream("GET", f"{url}/dashboard/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = EventSource(response).aiter_sse()
            first = await asyncio.wait_for(anext(events), 10)
            assert first.event == "stats"
            document = json.loads(first.data)
            assert document["connections"] == 0
            assert set(document["series"]) >= {"t", "delivered", "p99_ms", "cpu_percent", "rss_bytes"}
            second = await asyncio.wait_for(anext(events), 10)
            assert json.loads(second.data)["server_time"] >= document["server_time"]


async def test_a_forged_dashboard_cookie_is_refused(memory_served: Served) -> None:
    async with httpx.AsyncClient(timeout=10, cookies={"flagstream_dashboard": "admin.forged.signature"}) as client:
        assert (await client.get(f"{memory_served.url}/dashboard")).status_code == 401
        assert (await client.get(f"{memory_served.url}/dashboard/stream")).status_code == 401


async def test_http_durations_and_service_gauges_are_on_metrics(memory_served: Served) -> None:
    served = memory_served
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, served.url, served.auth("alice")) as stream:
            await stream.next()
        await client.get(f"{served.url}/v1/admin/stats", headers=ADMIN_AUTH)
        await client.get(f"{served.url}/no/such/page")
        text = (await client.get(f"{served.url}/metrics")).text
    assert 'http_request_duration_seconds_count{method="GET",route="/v1/stream",status="200"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="GET",route="/v1/admin/stats",status="200"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="GET",route="other",status="404"} 1.0' in text
    assert f"sse_connections_limit {float(served.settings.max_connections)}" in text
    assert "flag_client_fresh 1.0" in text


async def test_a_real_flagstream_serve_reports_its_flag_decisions(server) -> None:
    """The embedded default (`flagstream serve`, shipped flags file): every decision lets users in."""
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(client, server.url, {"Authorization": f"Bearer {server.user_token('carol')}"}) as stream:
            assert (await stream.next()).event == "connected"

            async def stats() -> dict:
                return (await client.get(f"{server.url}/v1/admin/stats", headers=admin)).json()

            body = await poll(stats, lambda b: b["process"]["cpu_percent"] is not None)
    assert body["connections"] == 1 and body["top_users"] == [{"user_id": "carol", "connections": 1}]
    assert body["flags"]["state"] == "fresh"
    assert body["flags"]["evaluations"]["enabled"] >= 1
    assert body["flags"]["evaluations"]["disabled"] == 0
    assert body["rollout"]["enabled_share"] == 1.0
    assert body["instance"]["broker"] == "memory"
