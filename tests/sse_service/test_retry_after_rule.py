"""One Retry-After rule (docs/api.md "Errors"): a 503 says `RETRY_MS` in whole seconds, rounded
up, at least 1 (the same wait as the stream's `retry:` field), whichever route answers it; a
429 of a rate limit says when its bucket has a token again. And a store failure's body is generic."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart

from sse_service.app import create_app
from sse_service.auth import mint_token
from sse_service.services import Services
from sse_service.stream_admission import Refuse, admit
from sse_service.types import BrokerUnavailable
from tests.sse_service.test_publish_endpoint import AUTH, call
from tests.support.gates import SwitchableGate
from tests.support.inprocess import SECRET, server_settings

RETRY_MS = 4500  # → "5"


def broken_store(s: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise BrokerUnavailable("the notification store is unavailable; retry later")

    for name in ("append", "history", "position", "acquire_lease", "subscribe"):
        monkeypatch.setattr(s.broker, name, unavailable)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Quart:
    app = create_app(server_settings(retry_ms=RETRY_MS), flag_gate=SwitchableGate())
    broken_store(app.extensions["flagstream"], monkeypatch)
    return app


@pytest.fixture
def services(app: Quart) -> Services:
    s: Services = app.extensions["flagstream"]
    return s


def test_publish_to_a_broken_store_says_retry_ms_in_seconds(services: Services) -> None:
    from sse_service.publish_endpoint import PublishEndpoint

    body = json.dumps({"user_id": "u1", "event": "n", "data": {}}).encode()
    answer, _ = call(PublishEndpoint(services, 4096), [body], AUTH)
    assert answer is not None
    status, headers, document = answer
    assert (status, headers.get("retry-after"), document["error"]) == (503, "5", "unavailable")


def test_a_stream_refused_for_a_broken_lease_store_says_the_same_and_names_no_exception(services: Services) -> None:
    token = mint_token(SECRET, "u1")
    refused = asyncio.run(admit(services, {"authorization": f"Bearer {token}"}, {}))
    assert isinstance(refused, Refuse) and refused.status == 503
    assert {k.lower(): v for k, v in refused.headers.items()}["retry-after"] == "5"
    assert refused.body is not None and "Error" not in json.dumps(refused.body)


def test_the_inbox_of_a_broken_store_says_the_same(app: Quart) -> None:
    async def read() -> tuple[int, str | None]:
        response = await app.test_client().get(
            "/v1/notifications", headers={"Authorization": f"Bearer {mint_token(SECRET, 'u1')}"}
        )
        return response.status_code, response.headers.get("Retry-After")

    assert asyncio.run(read()) == (503, "5")
