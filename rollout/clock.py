"""Wall-clock time for the controller; tests inject their own clock instead."""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    """Unix time, because state and audit records outlive the process (monotonic time would not)."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
