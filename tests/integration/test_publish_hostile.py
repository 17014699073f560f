"""Hostile and careless publishers (issue 14 items 1, 5, 9, 13): nothing lost, nothing
stored twice, no internals in error bodies — on both brokers."""

from __future__ import annotations

import httpx
import pytest

from sse_service.auth import mint_token
from tests.support.inprocess import PUBLISH, Served

PUB = {"Authorization": f"Bearer {PUBLISH}"}


async def post(served: Served, body, headers=PUB) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        if isinstance(body, (bytes, str)):
            return await client.post(f"{served.url}/v1/notifications", content=body, headers=headers)
        return await client.post(f"{served.url}/v1/notifications", json=body, headers=headers)


async def inbox(served: Served, user: str) -> list[dict]:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/notifications", headers=served.auth(user))
    assert r.status_code == 200, r.text
    return r.json()["notifications"]


def jwt_publisher(served: Served, subject: str | None) -> dict[str, str]:
    claims = {} if subject is not None else {"sub": None}
    token = mint_token(served.settings.jwt_secret, subject or "x", scope="publish", **claims)
    if subject is None:  # a publisher JWT without `sub`
        import jwt

        payload = jwt.decode(token, options={"verify_signature": False})
        payload.pop("sub")
        token = jwt.encode(payload, served.settings.jwt_secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


async def test_regression_a_user_named_like_another_users_trim_marker_breaks_nothing(make_server) -> None:
    """14.1: `alice:trimmed` was alice's trim-marker key: her inbox became a 503."""
    async with make_server(history_size=2) as served:
        assert (await post(served, {"notifications": [{"user_id": "alice", "data": i} for i in range(4)]})).status_code == 202
        assert (await post(served, {"user_id": "alice:trimmed", "data": "x"})).status_code == 202
        assert (await post(served, {"user_id": "alice", "data": "later"})).status_code == 202
        assert [n["data"] for n in await inbox(served, "alice")] == [3, "later"]
        assert [n["data"] for n in await inbox(served, "alice:trimmed")] == ["x"]
        for odd in ("h:x", "{u}", "b", "a}{b", "lease:alice"):
            assert (await post(served, {"user_id": odd, "data": odd})).status_code == 202
            assert [n["data"] for n in await inbox(served, odd)] == [odd]


async def test_regression_idempotency_keys_of_different_publishers_never_collide(served: Served) -> None:
    """14.9: `billing`+`job:K` was `billing:job`+`K`; a JWT `sub=static-publish` was the static token."""
    body = {"user_id": "idem", "data": 1}
    first = await post(served, {**body, "idempotency_key": "job:K"}, jwt_publisher(served, "billing"))
    second = await post(served, {**body, "idempotency_key": "K"}, jwt_publisher(served, "billing:job"))
    static = await post(served, {**body, "idempotency_key": "same"})
    impostor = await post(served, {**body, "idempotency_key": "same"}, jwt_publisher(served, "static-publish"))
    assert {r.status_code for r in (first, second, static, impostor)} == {202}
    assert first.json()["ids"] != second.json()["ids"]
    assert static.json()["ids"] != impostor.json()["ids"]
    assert len(await inbox(served, "idem")) == 4


async def test_regression_a_publisher_jwt_without_sub_is_refused(served: Served) -> None:
    r = await post(served, {"user_id": "u", "data": 1, "idempotency_key": "k"}, jwt_publisher(served, None))
    assert r.status_code == 401 and "sub" in r.json()["detail"]


async def test_regression_a_reused_idempotency_key_with_another_request_is_409(served: Served) -> None:
    assert (await post(served, {"user_id": "k409", "data": 1, "idempotency_key": "k"})).status_code == 202
    r = await post(
        served, {"notifications": [{"user_id": "k409", "data": 0}, {"user_id": "k409", "data": 2, "idempotency_key": "k"}]}
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "conflict" and r.json()["detail"][0]["field"] == "notifications[1].idempotency_key"
    assert [n["data"] for n in await inbox(served, "k409")] == [1]  # nothing of the refused batch


async def test_regression_a_lone_surrogate_user_id_is_422_on_every_broker(served: Served) -> None:
    """14.13: 503 + Retry-After on Redis (publishers retried forever), 202 on memory."""
    for body, field in (
        (b'{"user_id": "a\\ud800", "data": 1}', "user_id"),
        (b'{"user_ids": ["ok", "\\udfff"], "data": 1}', "user_ids"),
    ):
        r = await post(served, body)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == field


async def test_regression_recipients_per_request_are_capped(make_server) -> None:
    """14.5: MAX_BATCH x MAX_RECIPIENTS let one request create a million events."""
    async with make_server(max_recipients_per_request=10) as served:
        users = [f"r{i}" for i in range(6)]
        r = await post(served, {"notifications": [{"user_ids": users, "data": 1}, {"user_ids": users, "data": 2}]})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "notifications"
        assert await inbox(served, "r0") == []
        assert (
            await post(served, {"notifications": [{"user_ids": users, "data": 1}, {"broadcast": True, "data": 2}]})
        ).status_code == 202


@pytest.mark.redis
async def test_regression_a_503_never_echoes_redis_or_lua_internals(redis_url: str, redis_prefix: str) -> None:
    """14.13: the 503 body carried the Redis error (`WRONGTYPE …`, script internals)."""
    import redis as sync_redis

    from sse_service.broker.keys import user_keys
    from tests.support.inprocess import server_settings, serving

    settings = server_settings(broker="redis", redis_url=redis_url, redis_prefix=redis_prefix)
    async with serving(settings) as served:
        plain = sync_redis.Redis.from_url(redis_url)
        plain.set(user_keys("blocked").history(redis_prefix), "foreign")
        r = await post(served, {"user_ids": ["ok", "blocked"], "data": 1})
        plain.close()
        assert r.status_code == 503 and r.headers["retry-after"]
        text = r.text.lower()
        assert not any(word in text for word in ("wrongtype", "redis", "script", "lua", "flagstream wrong")), r.text
        async with httpx.AsyncClient(timeout=10) as client:
            i = await client.get(f"{served.url}/v1/notifications", headers=served.auth("blocked"))
        assert i.status_code == 503 and "redis" not in i.text.lower()
        assert await inbox(served, "ok") == []  # all or nothing


async def test_a_lone_surrogate_in_a_users_token_subject_reads_an_empty_inbox_not_an_error(served: Served) -> None:
    token = mint_token(served.settings.jwt_secret, "a\ud800")
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["notifications"] == []
