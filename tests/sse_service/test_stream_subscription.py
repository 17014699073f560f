"""A stream holds its user's subscription only once `subscribe` returned: a stream whose
subscribe failed (or was cancelled) must not unsubscribe, or it takes the channel away from
the user's other streams on this instance (they would silently stop getting live events)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sse_service.app import create_app
from sse_service.auth import mint_token
from sse_service.services import Services
from sse_service.stream import StreamEndpoint
from sse_service.types import BrokerUnavailable
from tests.support.gates import SwitchableGate
from tests.support.inprocess import SECRET, server_settings


class Subscriptions:
    """The broker's subscribe/unsubscribe, counting what each user holds."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}
        self.fail = False

    async def subscribe(self, user_id: str) -> None:
        if self.fail:
            raise BrokerUnavailable("subscription failed")
        self.held[user_id] = self.held.get(user_id, 0) + 1

    async def unsubscribe(self, user_id: str) -> None:
        self.held[user_id] = self.held.get(user_id, 0) - 1


async def open_stream(endpoint: StreamEndpoint, user: str) -> tuple[asyncio.Task[None], asyncio.Future[Any], int]:
    gone: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def receive() -> Any:
        return await gone

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {mint_token(SECRET, user)}".encode())]}
    task = asyncio.create_task(endpoint(scope, receive, send))
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        task.result()  # the endpoint failed before answering: its error (Hypercorn's 500)
        raise AssertionError("the stream ended without an answer")
    return task, gone, started.result()


async def test_a_stream_whose_subscribe_failed_leaves_the_users_other_stream_subscribed(monkeypatch: pytest.MonkeyPatch) -> None:
    services: Services = create_app(server_settings(), flag_gate=SwitchableGate()).extensions["flagstream"]
    subscriptions = Subscriptions()
    monkeypatch.setattr(services.broker, "subscribe", subscriptions.subscribe)
    monkeypatch.setattr(services.broker, "unsubscribe", subscriptions.unsubscribe)
    endpoint = StreamEndpoint(services)
    first, first_gone, status = await open_stream(endpoint, "u1")
    assert status == 200 and subscriptions.held == {"u1": 1}
    subscriptions.fail = True
    second, _, status = await open_stream(endpoint, "u1")
    await second
    assert status == 503
    assert subscriptions.held == {"u1": 1}  # was 0: the first stream lost its live events
    first_gone.set_result({"type": "http.disconnect"})
    await first
    assert subscriptions.held == {"u1": 0}


async def test_a_stream_opens_when_the_store_cannot_pass_on_the_eviction_it_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `evict_oldest` the lease names a stream held by another instance; when the store
    cannot deliver that eviction, the new stream still opens (the evicted lease is already
    gone) and the failure is counted, instead of the request dying with a 500."""
    from sse_service.types import LeaseResult

    services: Services = create_app(server_settings(), flag_gate=SwitchableGate()).extensions["flagstream"]

    async def lease(*args: Any) -> LeaseResult:
        return LeaseResult(True, ("a-stream-on-another-instance",))

    async def evict(*args: Any) -> None:
        raise BrokerUnavailable("the notification store is unavailable; retry later")

    errors: list[str] = []
    monkeypatch.setattr(services.broker, "acquire_lease", lease)
    monkeypatch.setattr(services.broker, "evict", evict)
    monkeypatch.setattr(services.metrics, "error", errors.append)
    task, gone, status = await open_stream(StreamEndpoint(services), "u1")
    assert status == 200 and errors == ["evict"]
    gone.set_result({"type": "http.disconnect"})
    await task
