"""/readyz tells anonymous callers only whether to send traffic; details are for admins."""

from __future__ import annotations

import httpx

from tests.support.inprocess import ADMIN


async def test_anonymous_readyz_shows_only_the_status(served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}
    for secret in ("127.0.0.1:6379", "redis://", "flags.json", "instance"):
        assert secret not in r.text


async def test_anonymous_readyz_while_unavailable_still_shows_only_the_status(served) -> None:
    served.services.hub.start_draining()
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/readyz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable"}


async def test_admins_get_every_dependency_in_readyz(served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/readyz", headers={"Authorization": f"Bearer {ADMIN}"})
        user = await client.get(f"{served.url}/readyz", headers=served.auth("alice"))
    assert r.status_code == 200
    assert {"status", "broker", "flags", "instance", "draining"} <= set(r.json())
    assert user.status_code == 401 and user.json()["error"] == "unauthorized"
