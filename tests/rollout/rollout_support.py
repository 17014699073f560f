"""Test doubles for rollout unit tests: an injected clock, an in-memory flag admin, scripted metrics.

The real flag admin backends live in ``flags`` and are exercised by the integration test.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from flags.types import RolloutState
from rollout.types import WindowSample


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += seconds
        await asyncio.sleep(0)  # still let other tasks run, as a real sleep would

    def advance(self, seconds: float) -> None:
        self.time += seconds


@dataclass
class MemoryFlagAdmin:
    flag: str = "sse-delivery"
    enabled: bool = False
    percentage: int = 0
    allowlist: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)
    broken: bool = False

    def _call(self, what: str) -> None:
        if self.broken:
            raise ConnectionError("flag backend unreachable")
        self.calls.append(what)

    async def set_rollout(self, percent: int) -> None:
        self._call(f"rollout {percent}")
        self.percentage = percent

    async def set_allowlist(self, user_ids: list[str]) -> None:
        self._call(f"allowlist {','.join(user_ids)}")
        self.allowlist = tuple(user_ids)

    async def enable(self) -> None:
        self._call("enable")
        self.enabled = True

    async def disable(self) -> None:
        self._call("disable")
        self.enabled = False

    async def state(self) -> RolloutState:
        return RolloutState(self.flag, self.enabled, self.percentage, self.allowlist)


def healthy(**overrides: float) -> WindowSample:
    values = {
        "window_seconds": 60.0,
        "delivered": 1000,
        "latency_count": 1000,
        "latency_p50": 0.004,
        "latency_p90": 0.01,
        "latency_p99": 0.02,
        "published": 500,
        "errors": 0,
        "connection_attempts": 40,
        "rejected_by_health": 0,
        "rejected_user_limit": 0,
        "overflow_disconnects": 0,
        "connections": 120,
        "users": 100,
        "users_with_many_connections": 0,
    }
    values.update(overrides)
    return WindowSample(**values)


class ScriptedSource:
    """Answers each check with the next queued window (``then``), else with ``default``."""

    def __init__(self, default: WindowSample | None) -> None:
        self.script: deque[WindowSample | None] = deque()
        self.default = default
        self.started = 0

    def then(self, *samples: WindowSample | None) -> None:
        self.script.extend(samples)

    def always(self, sample: WindowSample | None) -> None:
        self.script.clear()
        self.default = sample

    async def start(self) -> None:
        self.started += 1

    async def sample(self, window_seconds: float, queries: dict[str, str]) -> WindowSample | None:
        return self.script.popleft() if self.script else self.default

    async def close(self) -> None:
        pass
