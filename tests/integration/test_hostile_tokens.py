"""Tokens an attacker can sign or forge never get a 5xx: a 401 with a JSON body."""

from __future__ import annotations

import httpx
import pytest

from tests.sse_service.test_auth import signed_raw
from tests.support.inprocess import SECRET


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "1e400"])
async def test_a_token_whose_exp_overflows_a_float_is_a_401_everywhere(served, exp: str) -> None:
    token = signed_raw('{"sub": "u", "exp": %s, "scope": "publish admin"}' % exp, SECRET)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        for method, path in (
            ("GET", "/v1/stream"),
            ("GET", "/v1/notifications"),
            ("POST", "/v1/notifications"),
            ("GET", "/v1/admin/stats"),
        ):
            r = await client.request(method, served.url + path, headers=auth, json={"user_id": "u", "data": 1})
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert r.json()["error"] == "unauthorized"
