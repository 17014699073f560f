"""Starlette + sse-starlette on Uvicorn (uvloop, httptools), as its README shows it.

One `asyncio.Queue` per stream, an async generator of event dicts that sse-starlette
encodes and sends one per write (with its ping, disconnect and shutdown tasks per stream).
`sep="\\n"`: the library's default CRLF is valid SSE, but the load generator splits on LF.
Same API subset as the floor (`contract.py`).
Run: python -m benchmarks.peers.sse_starlette_app PORT JWT_SECRET PUBLISH_TOKEN
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.peers.contract import CONNECTED, Notification, Recipients, arguments, user_of


def create_app(secret: str, publish_token: str) -> Starlette:
    recipients: Recipients[asyncio.Queue[Notification]] = Recipients()

    async def healthz(request: Request) -> Response:
        return JSONResponse({})

    async def stream(request: Request) -> Response:
        user = user_of(request.headers.get("authorization", ""), secret)
        if user is None:
            return JSONResponse({}, 401)
        queue: asyncio.Queue[Notification] = asyncio.Queue()

        async def events() -> AsyncIterator[bytes | dict[str, Any]]:
            recipients.add(user, queue)
            try:
                yield CONNECTED
                while True:
                    event_id, event, data = await queue.get()
                    yield {"id": event_id, "event": event, "data": json.dumps(data)}
            finally:
                recipients.discard(user, queue)

        return EventSourceResponse(events(), sep="\n")

    async def publish(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {publish_token}":
            return JSONResponse({}, 401)
        document = await request.json()
        ids = recipients.publish(document, lambda queue, notification: queue.put_nowait(notification))
        return JSONResponse({"ids": ids}, 202)

    routes = [
        Route("/healthz", healthz),
        Route("/v1/stream", stream),
        Route("/v1/notifications", publish, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def main() -> None:
    port, secret, token = arguments()
    uvicorn.run(
        create_app(secret, token),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        backlog=4096,
        timeout_keep_alive=75,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
