"""A progress bar on stderr per phase (tqdm), refreshed from the workers' shared counters."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from tqdm import tqdm

REFRESH = 0.25


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr is not None
        self._task: asyncio.Task[None] | None = None
        self._bar: tqdm | None = None

    def phase(self, name: str, total: float, current: Callable[[], float], received: Callable[[], int] | None = None) -> None:
        self.done()
        if not self.enabled:
            return
        bar = tqdm(
            total=total,
            desc=f"{name:>9}",
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            bar_format="{desc} {bar} {n:,.0f}/{total:,.0f} [{elapsed}]{postfix}",
        )
        self._bar = bar

        async def refresh() -> None:
            last_received, last_at = 0, asyncio.get_running_loop().time()
            while True:
                bar.n = min(total, current())
                if received is not None:
                    now, got = asyncio.get_running_loop().time(), received()
                    rate = (got - last_received) / max(now - last_at, 1e-6)
                    bar.set_postfix_str(f"{got:,} delivered, {rate:,.0f}/s", refresh=False)
                    last_received, last_at = got, now
                bar.refresh()
                await asyncio.sleep(REFRESH)

        self._task = asyncio.get_running_loop().create_task(refresh())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None
