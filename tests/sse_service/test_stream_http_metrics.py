"""A stream reports its own HTTP duration (it is not behind the HTTP metrics middleware): every
answer, a refusal as much as an opened stream, lands in `http_request_duration_seconds`."""

from __future__ import annotations

import asyncio
from typing import Any

from sse_service.app import create_app
from sse_service.services import Services
from tests.support.gates import SwitchableGate
from tests.support.inprocess import server_settings


def test_a_refused_stream_is_counted_with_its_status() -> None:
    app = create_app(server_settings(), flag_gate=SwitchableGate())
    services: Services = app.extensions["flagstream"]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/v1/stream", "headers": [], "query_string": b""}
    asyncio.run(app.asgi_app(scope, receive, send))
    assert sent[0]["status"] == 401
    text = services.metrics.exposition()[0].decode()
    assert 'http_request_duration_seconds_count{method="GET",route="/v1/stream",status="401"} 1.0' in text
