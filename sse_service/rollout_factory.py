"""The one place that wires `rollout` into the service: its status for the admin stats and
the dashboard, read in the background (`RolloutStatusCache`); when ROLLOUT_CONTROLLER is on,
the controller as a task of the serving lifecycle; the Alertmanager receiver's rollback.

Only the app factory imports this module, and it imports `rollout` lazily: a service that
never rolls out never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from quart import Quart

from .config import Settings
from .rollout_status import RolloutStatusCache

if TYPE_CHECKING:
    from rollout import RolloutObserver, RolloutOptions

log = logging.getLogger(__name__)


def watch_rollout_while_serving(app: Quart, settings: Settings) -> RolloutStatusCache:
    """The rollout status cache of this instance, read in a task of ``app``'s serving lifecycle."""

    def observer() -> RolloutObserver:
        from rollout import RolloutObserver

        return RolloutObserver(
            settings.rollout_plan,
            settings.rollout_state,
            settings.rollout_flag,
            timeout=min(1.0, settings.rollout_status_interval),
        )

    cache = RolloutStatusCache(observer, settings.rollout_status_interval)
    app.while_serving(cache.while_serving)
    return cache


def rollout_options(settings: Settings) -> RolloutOptions:
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
        from rollout import RolloutError, open_controller

        if not Path(settings.rollout_plan).is_file():
            raise RolloutError(f"no rollout plan at {settings.rollout_plan} (FLAGSTREAM_ROLLOUT_PLAN)")
        options = replace(rollout_options(settings), metrics_urls=(), prometheus_url=None)
        async with open_controller(options, needs_flags=True, needs_metrics=False) as controller:
            return await controller.rollback_on_alert("alertmanager", reason)

    return roll_back


def run_controller_while_serving(app: Quart, settings: Settings) -> None:
    """The embedded controller: the one `flagstream rollout watch` runs, as a serving task."""
    options = rollout_options(settings)

    async def run_rollout_controller(stop: asyncio.Event) -> None:
        from rollout import open_controller

        async with open_controller(options, needs_flags=True, needs_metrics=True) as controller:
            await controller.run(stop)

    async def controller() -> AsyncGenerator[None, None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_rollout_controller(stop), name="rollout-controller")
        task.add_done_callback(_report_failure)
        yield
        stop.set()
        await asyncio.gather(task, return_exceptions=True)

    app.while_serving(controller)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        from rollout.masking import mask_text

        log.error("the in-service rollout controller stopped: %s", mask_text(str(task.exception())))
