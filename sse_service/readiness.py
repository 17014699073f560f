"""The broker's readiness within a deadline, for /readyz.

A readiness probe must answer within its own deadline: a broker check that hangs (a
paused Redis holds the ping for the client's whole socket timeout) would otherwise time
out the probe of every instance at once. One check is in flight at a time; a probe that
outlives the deadline answers with the last known state and the reason "timeout".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .broker.base import Broker


@dataclass(frozen=True, slots=True)
class BrokerReadiness:
    state: str  # ok | unavailable | timeout
    problem: str | None  # why it is not ready (None when ok)
    last_known: str | None = None  # with `timeout`: the state the last finished check found


class BrokerProbe:
    def __init__(self, broker: Broker, timeout: float) -> None:
        self._broker = broker
        self._timeout = timeout
        self._check: asyncio.Task[str | None] | None = None
        self._last_known: str | None = None

    async def readiness(self) -> BrokerReadiness:
        if self._check is None or self._check.done():
            self._check = asyncio.get_running_loop().create_task(self._run(), name="broker-readiness-check")
        try:
            async with asyncio.timeout(self._timeout):
                problem = await asyncio.shield(self._check)
        except TimeoutError:
            return BrokerReadiness(
                "timeout",
                f"broker check did not answer within {self._timeout:g} s (last known: {self._last_known or 'none'})",
                self._last_known,
            )
        return BrokerReadiness("ok" if problem is None else "unavailable", problem)

    async def _run(self) -> str | None:
        try:
            problem = await self._broker.check()
        except Exception as exc:  # a check must report, never raise
            problem = f"broker check failed: {type(exc).__name__}"
        self._last_known = "ok" if problem is None else "unavailable"
        return problem

    async def stop(self) -> None:
        if self._check is not None:
            self._check.cancel()
            await asyncio.gather(self._check, return_exceptions=True)
