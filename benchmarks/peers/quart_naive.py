"""A naive Quart app on Hypercorn + uvloop: what a developer writes first.

One `asyncio.Queue` per stream, an async generator response that formats each event with
the stdlib `json` and yields it as its own write, Quart's request machinery on the publish
route. Same API subset as the floor (`contract.py`).
Run: python -m benchmarks.peers.quart_naive PORT JWT_SECRET PUBLISH_TOKEN
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from quart import Quart, make_response, request

from benchmarks.peers.contract import CONNECTED, SSE_HEADERS, Notification, Recipients, arguments, serve_on_hypercorn, user_of


def create_app(secret: str, publish_token: str) -> Quart:
    app = Quart(__name__)
    app.config["RESPONSE_TIMEOUT"] = None  # Quart's 60 s default would end every stream
    recipients: Recipients[asyncio.Queue[Notification]] = Recipients()

    @app.get("/healthz")
    async def healthz() -> tuple[dict[str, Any], int]:
        return {}, 200

    @app.get("/v1/stream")
    async def stream() -> Any:
        user = user_of(request.headers.get("Authorization", ""), secret)
        if user is None:
            return {}, 401
        queue: asyncio.Queue[Notification] = asyncio.Queue()

        async def events() -> AsyncIterator[bytes]:
            recipients.add(user, queue)
            try:
                yield CONNECTED
                while True:
                    event_id, event, data = await queue.get()
                    yield f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()
            finally:
                recipients.discard(user, queue)

        response = await make_response(events(), 200, SSE_HEADERS)
        response.timeout = None
        return response

    @app.post("/v1/notifications")
    async def publish() -> tuple[dict[str, Any], int]:
        if request.headers.get("Authorization") != f"Bearer {publish_token}":
            return {}, 401
        document = await request.get_json(force=True)
        ids = recipients.publish(document, lambda queue, notification: queue.put_nowait(notification))
        return {"ids": ids}, 202

    return app


def main() -> None:
    port, secret, token = arguments()
    serve_on_hypercorn(create_app(secret, token), port)


if __name__ == "__main__":
    main()
