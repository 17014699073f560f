"""The rollout's phase for the service's /v1/admin/stats: a cheap synchronous read, no lock taken."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .plan import load_plan
from .records import state_from_json
from .status import status_view
from .store import is_redis_url, redis_prefix
from .types import ControllerState, RolloutError

STATS_KEYS = ("phase", "step", "percentage", "seconds_in_phase", "next_action", "next_action_at", "message")


def rollout_status_reader(plan_path: str, state: str) -> Callable[[], dict[str, Any] | None]:
    """A callable for ``install_admin(..., rollout_status=…)``: the rollout's phase and percentage.

    None while there is no plan file; ``{"error": …}`` (one line) when the plan or state is
    unreadable, so the stats page shows the problem instead of failing.
    """

    def read() -> dict[str, Any] | None:
        if not Path(plan_path).is_file():
            return None
        try:
            plan = load_plan(plan_path)
            current = _read_state(state, plan.flag) or ControllerState(flag=plan.flag)
            view = status_view(plan, current, time.time())
        except RolloutError as exc:
            return {"error": str(exc)}
        return {key: view[key] for key in STATS_KEYS}

    return read


def _read_state(target: str, flag: str) -> ControllerState | None:
    if is_redis_url(target):
        try:
            with redis.Redis.from_url(target, socket_timeout=1, socket_connect_timeout=1) as client:
                text = client.get(redis_prefix(flag) + "state")
        except redis.RedisError as exc:
            raise RolloutError(f"redis {target}: cannot read rollout state: {exc}") from None
        return None if text is None else state_from_json(text.decode(), target)
    try:
        return state_from_json(Path(target).read_text(encoding="utf-8"), target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RolloutError(f"{target}: cannot read rollout state: {exc.strerror}") from None
