"""POST /v1/notifications as the plain ASGI endpoint it is, driven without a socket: the real
app's services (memory broker), a scope, a receive and a send that records what is answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sse_service.app import create_app
from sse_service.publish_endpoint import PublishEndpoint
from sse_service.services import Services
from tests.support.inprocess import PUBLISH, server_settings

Answer = tuple[int, dict[str, str], Any]


def call(
    endpoint: PublishEndpoint, chunks: list[bytes], headers: dict[str, str], disconnect: bool = False
) -> tuple[Answer | None, int]:
    """Run one request; returns (status, headers, JSON body) or None when nothing was sent,
    and how many times the endpoint read the body."""
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        pending = [*pending[:-1], {"type": "http.disconnect"}]
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/notifications",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(endpoint(scope, receive, send))
    if not sent:
        return None, reads
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return (start["status"], answer_headers, json.loads(body)), reads


AUTH = {"Authorization": f"Bearer {PUBLISH}"}


def endpoint_and_services(max_body: int = 4096) -> tuple[PublishEndpoint, Services]:
    services: Services = create_app(server_settings()).extensions["flagstream"]
    return PublishEndpoint(services, max_body), services


def test_an_accepted_notification_is_stored_before_the_202_names_its_id() -> None:
    endpoint, services = endpoint_and_services()
    body = json.dumps({"user_id": "u1", "event": "news", "data": {"a": 1}}).encode()
    answer, _ = call(endpoint, [body[:10], body[10:]], AUTH)
    assert answer is not None
    status, _, document = answer
    assert status == 202 and len(document["ids"]) == 1
    page = asyncio.run(services.broker.history("u1", None, 10))
    assert [(e.event, e.data_json) for e in page.events] == [("news", '{"a":1}')]


def test_no_token_is_a_401_with_www_authenticate_and_the_body_is_not_read() -> None:
    endpoint, _ = endpoint_and_services()
    answer, reads = call(endpoint, [b"{}"], {})
    assert answer is not None and answer[0] == 401 and answer[1]["www-authenticate"] == "Bearer"
    assert answer[2]["error"] == "unauthorized" and reads == 0


def test_an_announced_body_over_the_limit_is_a_413_before_reading_it() -> None:
    endpoint, _ = endpoint_and_services(max_body=100)
    answer, reads = call(endpoint, [b"x" * 200], {**AUTH, "Content-Length": "200"})
    assert answer is not None and answer[0] == 413 and reads == 0


def test_a_body_that_grows_over_the_limit_while_read_is_a_413() -> None:
    endpoint, _ = endpoint_and_services(max_body=100)
    answer, _ = call(endpoint, [b"x" * 60, b"x" * 60], AUTH)
    assert answer is not None and answer[0] == 413


def test_an_invalid_notification_is_a_422_naming_the_field_and_nothing_is_stored() -> None:
    endpoint, services = endpoint_and_services()
    answer, _ = call(endpoint, [json.dumps({"user_id": "u1", "event": "", "data": 1}).encode()], AUTH)
    assert answer is not None and answer[0] == 422
    assert [p["field"] for p in answer[2]["detail"]] == ["event"]
    assert asyncio.run(services.broker.history("u1", None, 10)).events == []


def test_a_reused_idempotency_key_with_other_data_is_a_409_naming_its_place_in_the_batch() -> None:
    endpoint, _ = endpoint_and_services()
    first = {"user_id": "u1", "event": "n", "data": 1, "idempotency_key": "k1"}
    assert call(endpoint, [json.dumps(first).encode()], AUTH)[0][0] == 202  # type: ignore[index]
    batch = {"notifications": [{**first, "idempotency_key": "k2"}, {**first, "data": 2}]}
    answer, _ = call(endpoint, [json.dumps(batch).encode()], AUTH)
    assert answer is not None and answer[0] == 409
    assert answer[2]["detail"][0]["field"] == "notifications[1].idempotency_key"


def test_a_publisher_that_goes_away_mid_body_gets_no_answer_and_stores_nothing() -> None:
    endpoint, services = endpoint_and_services()
    body = json.dumps({"user_id": "u1", "event": "n", "data": 1}).encode()
    answer, _ = call(endpoint, [body[:5], body[5:]], AUTH, disconnect=True)
    assert answer is None
    assert asyncio.run(services.broker.history("u1", None, 10)).events == []
