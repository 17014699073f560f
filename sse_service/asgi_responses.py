"""The few plain ASGI responses the stream endpoint sends before any event."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


async def send_json(send: Send, status: int, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None) -> None:
    payload = json.dumps(body).encode() if body is not None else b""
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body is not None:
        raw.append((b"content-type", b"application/json"))
    raw.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
