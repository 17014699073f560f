"""What the Python peers share: the part of flagstream's API that `flagstream loadtest` drives.

- `GET /v1/stream`, `Authorization: Bearer <HS256 JWT>` (the user is `sub`; 401 otherwise):
  200 `text/event-stream`, first `id: 0` / `event: connected` / `data: {}`, then each
  notification as `id: <n>` / `event: <event>` / `data: <JSON>`, ids in publish order.
- `POST /v1/notifications`, `Authorization: Bearer <publish token>` (401 otherwise), body
  `{"notifications": [...]}` or one item; an item is `{"user_id" | "user_ids" | "broadcast": true,
  "event", "data"}`; 202 `{"ids": [...]}`.
- `GET /healthz`: 200 once serving.

Nothing else: no replay (Last-Event-ID is ignored), no limits, no metrics.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import jwt

Stream = TypeVar("Stream")
Notification = tuple[str, str, Any]  # (id, event name, data)
CONNECTED = b"id: 0\nevent: connected\ndata: {}\n\n"
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def arguments() -> tuple[int, str, str]:
    """`python -m benchmarks.peers.<peer> PORT JWT_SECRET PUBLISH_TOKEN`"""
    port, secret, token = sys.argv[1:4]
    return int(port), secret, token


def user_of(authorization: str, secret: str) -> str | None:
    try:
        return str(jwt.decode(authorization.removeprefix("Bearer "), secret, algorithms=["HS256"])["sub"])
    except (jwt.PyJWTError, KeyError):
        return None


class Recipients(Generic[Stream]):
    """The open streams per user; `publish` numbers a batch and hands each notification to its streams."""

    def __init__(self) -> None:
        self.users: dict[str, set[Stream]] = {}
        self.counter = itertools.count(1)

    def add(self, user: str, stream: Stream) -> None:
        self.users.setdefault(user, set()).add(stream)

    def discard(self, user: str, stream: Stream) -> None:
        held = self.users.get(user)
        if held is not None:
            held.discard(stream)
            if not held:
                del self.users[user]

    def publish(self, document: dict[str, Any], deliver: Callable[[Stream, Notification], None]) -> list[str]:
        ids = []
        for item in document.get("notifications", [document]):
            notification = (str(next(self.counter)), item.get("event", "notification"), item["data"])
            ids.append(notification[0])
            if item.get("broadcast"):
                streams = [stream for held in self.users.values() for stream in held]
            else:
                streams = [stream for user in item.get("user_ids") or [item["user_id"]] for stream in self.users.get(user, ())]
            for stream in streams:
                deliver(stream, notification)
        return ids


def serve_on_hypercorn(app: Any, port: int) -> None:
    """Hypercorn + uvloop, one process, as both Hypercorn peers are measured."""
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.backlog = 4096
    config.keep_alive_timeout = 75
    config.accesslog = None
    uvloop.run(serve(app, config))
