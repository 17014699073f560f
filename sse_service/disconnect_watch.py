"""Noticing at once that a stream's client went away (Hypercorn's `http.disconnect`).

The stream's own coroutine is busy writing, so the ASGI `receive` is read by a task of
its own. That task runs `receive()` itself, with a callback, rather than a loop in a
coroutine of ours: an idle stream holds one small object here instead of a coroutine
frame (benchmarks/stream_memory.py). Any other message (the request's empty body) is
read past by receiving again.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from .connection import Closing, Connection

Receive = Callable[[], Awaitable[dict[str, Any]]]
CLIENT_LEFT = Closing("client", b"")
# The callback only closes a connection: it needs no context variables, and one shared
# empty context saves a copy of the current one per stream.
_NO_CONTEXT = contextvars.Context()


class DisconnectWatch:
    """Closes `connection` with reason `client` when `receive` says the client left (or fails)."""

    __slots__ = ("_receive", "_connection", "_task")

    def __init__(self, receive: Receive, connection: Connection) -> None:
        self._receive = receive
        self._connection = connection
        self._task: asyncio.Future[dict[str, Any]] = self._listen()

    def cancel(self) -> None:
        self._task.cancel()

    def _listen(self) -> asyncio.Future[dict[str, Any]]:
        task = asyncio.ensure_future(self._receive())
        task.add_done_callback(self, context=_NO_CONTEXT)  # itself: no bound method held per stream
        return task

    def __call__(self, task: asyncio.Future[dict[str, Any]]) -> None:
        """`receive()` returned (or failed, or the watch was cancelled)."""
        if task.cancelled():
            return
        if task.exception() is None and task.result()["type"] != "http.disconnect":
            self._task = self._listen()
            return
        self._connection.close(CLIENT_LEFT)
