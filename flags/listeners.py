"""Delivers "the flag state changed" from any thread to listeners on the asyncio loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

LOGGER = logging.getLogger("flags")


class ChangeListeners:
    """``notify_threadsafe`` may be called from UnleashClient's threads; listeners run on the loop.

    ``before_listeners`` runs first on the loop (the gate drops its cached decisions there),
    so a listener that re-evaluates users sees the new state.
    """

    def __init__(self, before_listeners: Callable[[], None] = lambda: None) -> None:
        self._before_listeners = before_listeners
        self._listeners: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def notify_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.notify)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def notify(self) -> None:
        """Run on the loop."""
        self._before_listeners()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                LOGGER.exception("flag change listener %r failed", listener)
