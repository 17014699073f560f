"""The real app on real Hypercorn on a real socket, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent
from quart import Quart

from sse_service.app import create_app
from sse_service.auth import mint_token
from sse_service.config import Settings, load_settings
from sse_service.server import hypercorn_config, serve_app
from sse_service.services import Services

from .redis_server import free_port

SECRET = "test-secret-0123456789abcdef0123456789"
PUBLISH = "test-publish-token"
ADMIN = "test-admin-token"


def server_settings(**changes: Any) -> Settings:
    base = {
        "jwt_secret": SECRET,
        "publish_token": PUBLISH,
        "admin_token": ADMIN,
        "port": free_port(),
        "ping_interval": 30,
        "shutdown_grace": 2,
        "log_level": "warning",
    }
    base.update(changes)
    return load_settings(env={}, overrides=base)


@dataclass
class Served:
    url: str
    app: Quart
    settings: Settings

    @property
    def services(self) -> Services:
        return self.app.extensions["flagstream"]

    def token(self, user_id: str, ttl: float = 3600) -> str:
        return mint_token(self.settings.jwt_secret, user_id, ttl=ttl)

    def auth(self, user_id: str, ttl: float = 3600) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, ttl)}"}

    async def publish(self, body: dict[str, Any], client: httpx.AsyncClient | None = None) -> list[str]:
        async with _client(client) as c:
            r = await c.post(f"{self.url}/v1/notifications", json=body, headers={"Authorization": f"Bearer {PUBLISH}"})
        assert r.status_code == 202, r.text
        return r.json()["ids"]


@contextlib.asynccontextmanager
async def _client(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
    else:
        async with httpx.AsyncClient(timeout=10) as c:
            yield c


@contextlib.asynccontextmanager
async def serving(settings: Settings, **factory_args: Any) -> AsyncIterator[Served]:
    app = create_app(settings, **factory_args)
    shutdown = asyncio.Event()
    task = asyncio.create_task(serve_app(app, hypercorn_config(settings), shutdown_trigger=shutdown.wait))
    url = f"http://{settings.host}:{settings.port}"
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(200):
            if task.done():
                task.result()
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
    try:
        yield Served(url, app, settings)
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 15)


class Stream:
    """An open SSE stream read event by event, with a deadline on every read."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._events = EventSource(response).aiter_sse()

    async def next(self, timeout: float = 5.0, skip_pings: bool = True) -> ServerSentEvent:
        async def read() -> ServerSentEvent:
            while True:
                event = await self._events.__anext__()
                if not (skip_pings and event.event == "ping"):
                    return event

        return await asyncio.wait_for(read(), timeout)

    async def take(self, n: int, timeout: float = 5.0) -> list[ServerSentEvent]:
        return [await self.next(timeout) for _ in range(n)]


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    async with client.stream("GET", f"{url}/v1/stream", headers=headers, params=params) as response:
        yield Stream(response)
