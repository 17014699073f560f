"""What the service takes from `rollout`: its status for the admin stats, and, when
ROLLOUT_CONTROLLER is on, the controller as a task of the serving lifecycle.

Only the app factory imports this module; request handling only calls the status reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quart import Quart

from .config import Settings

if TYPE_CHECKING:
    from rollout import RolloutOptions

log = logging.getLogger(__name__)


def rollout_status(settings: Settings) -> Callable[[], dict[str, Any] | None]:
    from rollout import rollout_status_reader

    return rollout_status_reader(settings.rollout_plan, settings.rollout_state)


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
        log.error("the in-service rollout controller stopped: %s", task.exception())
