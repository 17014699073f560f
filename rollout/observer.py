"""A read-only look at a rollout, for instances that do not run its controller.

Reads the state, the audit log and the most recent check records from the same places the
controller writes them (a JSON file and its `.audit.jsonl` / `.checks.jsonl` neighbours, or the
Redis keys under ``flagstream:rollout:<flag>:``), without taking any lock. Every read is
bounded: file reads run in a thread, Redis reads have a timeout, and only the last
``recent_checks`` check records are read. Errors are one line, with credentials masked.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .masking import mask_text, mask_url
from .plan import load_plan
from .records import check_from_json, parse_lines, state_from_json, transition_from_json
from .store import is_redis_url, redis_prefix
from .types import CheckResult, ControllerState, Plan, RolloutError, Transition

RECENT_CHECKS = 720  # twelve hours of one check a minute
RECENT_TRANSITIONS = 500
_TAIL_BYTES_PER_CHECK = 2048


@dataclass(frozen=True)
class RolloutSnapshot:
    """What was read at ``read_at``: ``plan`` is None when this instance has no plan file."""

    flag: str
    plan: Plan | None
    state: ControllerState | None
    transitions: tuple[Transition, ...]
    checks: tuple[CheckResult, ...]
    read_at: float


class RolloutObserver:
    """Reads a rollout's records without changing anything.

    Example::

        observer = RolloutObserver("rollout.toml", "redis://cache:6379/0", flag="sse-delivery")
        snapshot = await observer.read()     # RolloutError (one line, masked) when unreadable
        await observer.close()
    """

    def __init__(
        self, plan_path: str, state: str, flag: str, *, timeout: float = 1.0, recent_checks: int = RECENT_CHECKS
    ) -> None:
        self.plan_path = plan_path
        self.state = state
        self.flag = flag
        self.where = mask_url(state)
        self.timeout = timeout
        self.recent_checks = recent_checks
        self._redis: aioredis.Redis | None = None
        if is_redis_url(state):
            self._redis = aioredis.Redis.from_url(
                state,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )

    async def read(self, now: float) -> RolloutSnapshot:
        plan = await asyncio.to_thread(self._read_plan)
        flag = plan.flag if plan is not None else self.flag
        if self._redis is not None:
            state, transitions, checks = await self._read_redis(flag)
        else:
            state, transitions, checks = await asyncio.to_thread(self._read_files)
        if state is not None and state.flag != flag:
            raise RolloutError(f"{self.where} holds the rollout of {state.flag!r}, not of {flag!r}")
        return RolloutSnapshot(flag, plan, state, tuple(transitions), tuple(checks), now)

    def _read_plan(self) -> Plan | None:
        if not Path(self.plan_path).is_file():
            return None
        return load_plan(self.plan_path)

    async def _read_redis(self, flag: str) -> tuple[ControllerState | None, list[Transition], list[CheckResult]]:
        assert self._redis is not None
        prefix = redis_prefix(flag)
        try:
            async with asyncio.timeout(self.timeout * 2):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(prefix + "state")
                    pipe.lrange(prefix + "audit", -RECENT_TRANSITIONS, -1)
                    pipe.lrange(prefix + "checks", -self.recent_checks, -1)
                    text, audit, checks = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            reason = mask_text(str(exc) or exc.__class__.__name__, self.state)
            raise RolloutError(f"redis {self.where}: cannot read the rollout: {reason}") from None
        state = None if text is None else state_from_json(text, self.where)
        return (
            state,
            [transition_from_json(r) for r in parse_lines(audit, self.where)],
            [check_from_json(r) for r in parse_lines(checks, self.where)],
        )

    def _read_files(self) -> tuple[ControllerState | None, list[Transition], list[CheckResult]]:
        path = Path(self.state)
        state = None
        text = _read_text(path)
        if text is not None:
            state = state_from_json(text, str(path))
        audit = _tail_lines(path.with_suffix(".audit.jsonl"), RECENT_TRANSITIONS)
        checks = _tail_lines(path.with_suffix(".checks.jsonl"), self.recent_checks)
        return (
            state,
            [transition_from_json(r) for r in parse_lines(audit, str(path))],
            [check_from_json(r) for r in parse_lines(checks, str(path))],
        )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RolloutError(f"{path}: cannot read rollout state: {exc.strerror}") from None


def _tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines, reading only the end of a long file."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - count * _TAIL_BYTES_PER_CHECK)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RolloutError(f"{path}: cannot read: {exc.strerror}") from None
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line was cut by the seek
    return lines[-count:]
