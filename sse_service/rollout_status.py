"""The rollout as every instance shows it on /v1/admin/stats and /dashboard: the last snapshot
read by a background task, so a slow or dead state store never stalls a request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rollout import RolloutObserver, RolloutSnapshot

log = logging.getLogger(__name__)


class RolloutStatusCache:
    """The last rollout snapshot read, refreshed every ``interval`` seconds by its own task.

    ``status()`` and ``timeline()`` never do I/O. A failed read keeps the last good snapshot and
    adds ``error`` (one line, credentials masked) and ``error_since``.
    """

    def __init__(self, observer: Callable[[], RolloutObserver], interval: float, clock: Callable[[], float] = time.time) -> None:
        self._observer = observer
        self.interval = interval
        self._clock = clock
        self._snapshot: RolloutSnapshot | None = None
        self._error: str | None = None
        self._error_since: float | None = None
        self._timeline: dict[str, Any] | None = None
        self._timeline_key: tuple[Any, ...] | None = None
        self.version = 0

    def status(self) -> dict[str, Any] | None:
        from rollout import status_document

        document = status_document(self._snapshot, self._clock()) if self._snapshot is not None else None
        if self._error is not None:
            document = {**(document or {}), "error": self._error, "error_since": self._error_since}
        return document

    def timeline(self) -> tuple[int, dict[str, Any] | None]:
        """The timeline document and a version that changes whenever the document does."""
        return self.version, self._timeline

    async def refresh(self, observer: RolloutObserver) -> None:
        from rollout import RolloutError, timeline_document

        try:
            snapshot = await observer.read(self._clock())
        except RolloutError as exc:
            if str(exc) != self._error:
                log.warning("cannot read the rollout state: %s", exc)
                self._error, self._error_since = str(exc), self._clock()
            return
        self._snapshot, self._error, self._error_since = snapshot, None, None
        key = (
            snapshot.state,
            len(snapshot.transitions),
            snapshot.transitions[-1:],
            len(snapshot.checks),
            snapshot.checks[-1].time if snapshot.checks else None,
            snapshot.plan,
        )
        if key != self._timeline_key:
            self._timeline_key = key
            self._timeline = timeline_document(snapshot) if snapshot.state is not None or snapshot.transitions else None
            self.version += 1

    def _fail(self, exc: Exception) -> None:
        from rollout.masking import mask_text

        message = mask_text(f"{exc.__class__.__name__}: {exc}")
        if message != self._error:
            log.warning("reading the rollout state failed: %s", message)
            self._error, self._error_since = message, self._clock()

    async def while_serving(self) -> AsyncGenerator[None, None]:
        """For ``app.while_serving``: read now, then every ``interval``, until the app stops."""
        try:
            observer = self._observer()
        except Exception as exc:  # noqa: BLE001 — e.g. a malformed ROLLOUT_STATE URL: say so, serve on
            self._fail(exc)
            yield
            return

        async def keep_reading() -> None:
            while True:
                try:
                    await self.refresh(observer)
                except Exception as exc:  # noqa: BLE001 — the panel shows it; the task must live on
                    self._fail(exc)
                await asyncio.sleep(self.interval)

        task = asyncio.create_task(keep_reading(), name="rollout-status")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await observer.close()
