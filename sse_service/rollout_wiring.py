"""What the service takes from `rollout`: its status for the admin stats and the dashboard, read
in the background, and, when ROLLOUT_CONTROLLER is on, the controller as a task of the serving
lifecycle.

Only the app factory imports this module. Request handling only reads what the background
task cached: a slow or dead state store never stalls a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quart import Quart

from .config import Settings

if TYPE_CHECKING:
    from rollout import RolloutObserver, RolloutOptions, RolloutSnapshot

log = logging.getLogger(__name__)


class RolloutStatusCache:
    """The last rollout snapshot read, refreshed every ``interval`` seconds by its own task.

    ``status()`` and ``timeline()`` never do I/O. A failed read keeps the last good snapshot and
    adds ``error`` (one line, credentials masked) and ``error_since``.
    """

    def __init__(self, observer: Callable[[], RolloutObserver], interval: float,
                 clock: Callable[[], float] = time.time) -> None:
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
        key = (snapshot.state, len(snapshot.transitions), snapshot.transitions[-1:], len(snapshot.checks),
               snapshot.checks[-1].time if snapshot.checks else None, snapshot.plan)
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

    async def while_serving(self) -> AsyncIterator[None]:
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


def watch_rollout_while_serving(app: Quart, settings: Settings) -> RolloutStatusCache:
    """The rollout status cache of this instance, read in a task of ``app``'s serving lifecycle."""

    def observer() -> RolloutObserver:
        from rollout import RolloutObserver

        return RolloutObserver(settings.rollout_plan, settings.rollout_state, settings.rollout_flag,
                               timeout=min(1.0, settings.rollout_status_interval))

    cache = RolloutStatusCache(observer, settings.rollout_status_interval)
    app.while_serving(cache.while_serving)
    return cache


def rollout_options(settings: Settings) -> "RolloutOptions":
    """The rollout as this service sees it: its plan, state, flag admin and metrics."""
    from rollout import RolloutOptions

    return RolloutOptions(
        plan=settings.rollout_plan,
        state=settings.rollout_state,
        flags_file=settings.flags_file or None,
        unleash_url=settings.unleash_url or None,
        unleash_admin_token=settings.unleash_admin_token or None,
        unleash_project=settings.unleash_project,
        unleash_environment=settings.unleash_environment,
        metrics_urls=() if settings.prometheus_url else (f"http://127.0.0.1:{settings.port}/metrics",),
        metrics_token=settings.metrics_token or None,
        prometheus_url=settings.prometheus_url or None,
        webhook_url=settings.rollout_webhook or None,
    )


def alert_rollback(settings: Settings) -> Callable[[str], Awaitable[tuple[bool, str]]]:
    """For the Alertmanager receiver: roll back this service's rollout (its plan, state and flag admin)."""

    async def roll_back(reason: str) -> tuple[bool, str]:
        from rollout import RolloutError, rollback_on_alert

        if not Path(settings.rollout_plan).is_file():
            raise RolloutError(f"no rollout plan at {settings.rollout_plan} (FLAGSTREAM_ROLLOUT_PLAN)")
        options = replace(rollout_options(settings), metrics_urls=(), prometheus_url=None)
        return await rollback_on_alert(options, "alertmanager", reason)

    return roll_back


def run_controller_while_serving(app: Quart, settings: Settings) -> None:
    from rollout import run_rollout_controller

    options = rollout_options(settings)

    async def controller() -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_rollout_controller(options, stop), name="rollout-controller")
        task.add_done_callback(_report_failure)
        yield
        stop.set()
        await asyncio.gather(task, return_exceptions=True)

    app.while_serving(controller)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        from rollout.masking import mask_text

        log.error("the in-service rollout controller stopped: %s", mask_text(str(task.exception())))
