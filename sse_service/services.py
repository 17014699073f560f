"""Everything one process runs, built by the app factory and started in its lifecycle."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from flags.types import FlagFreshness, FlagGate
from observability.types import Metrics, Tracing

from .auth import TokenVerifier
from .broker.base import Broker, BrokerListeners
from .config import Settings
from .disable_spread import SpreadDisabler
from .hub import Hub
from .rate_limit import RateLimits
from .readiness import BrokerProbe
from .stream_tuning import StreamTuning
from .worker import NotificationWorker

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    verifier: TokenVerifier
    hub: Hub
    broker: Broker
    flags: FlagGate
    metrics: Metrics
    tracing: Tracing
    worker: NotificationWorker
    broker_probe: BrokerProbe
    rate_limits: RateLimits = field(default_factory=RateLimits.disabled)
    started_at: float = field(default_factory=time.time)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _started: bool = False
    _reevaluation: asyncio.Task[None] | None = None
    disabler: SpreadDisabler = field(init=False)

    def __post_init__(self) -> None:
        self.disabler = SpreadDisabler(self.hub, lambda user_id: not self.flags.is_enabled(user_id), self.settings.disable_spread)

    async def start(self) -> None:
        """Start everything; safe to call twice (the server starts early to report bad
        flag configuration in one line, then the serving lifecycle calls it again)."""
        if self._started:
            return
        self._started = True
        await self.broker.start(
            BrokerListeners(
                on_event=self.hub.dispatch,
                on_evict=self.hub.evict,
                on_fanout_lost=lambda: self.hub.send_everyone_away("error"),
                on_events=self.hub.dispatch_all,
            )
        )
        await self.flags.start()
        self.flags.subscribe(self.apply_flag_changes)
        self.metrics.watch_hub(self.hub.snapshot)
        self._tasks = [
            # About once a second (reauth within a second of `exp`), more often for a shorter PING_INTERVAL.
            asyncio.create_task(self._every(min(1.0, self.settings.ping_interval), self.hub.tick), name="hub-ticker"),
            asyncio.create_task(self._every(self.settings.lease_ttl / 3, self._renew_leases), name="lease-renewer"),
        ]

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._reevaluation] if self._reevaluation else [])]
        for task in tasks:
            task.cancel()
        self.disabler.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.flags.stop()
        await self.broker_probe.stop()
        await self.broker.close()
        await self.rate_limits.close()

    def apply_flag_changes(self) -> None:
        """After a flag refresh: users who left the rollout get `disabled`; knobs apply.

        An evaluation costs tens of microseconds, so ten thousand users are re-evaluated
        in slices that yield to the loop; a newer change restarts the pass.
        """
        if self._reevaluation is not None:
            self._reevaluation.cancel()
        self._reevaluation = asyncio.get_running_loop().create_task(self._reevaluate(), name="flag-reevaluation")

    async def _reevaluate(self, slice_size: int = 500) -> None:
        users = list({c.user_id for c in self.hub.connections()})
        closed = 0
        for start in range(0, len(users), slice_size):
            for user_id in users[start : start + slice_size]:
                connections = self.hub.user_connections(user_id)
                if not connections:
                    continue
                if not self.flags.is_enabled(user_id):
                    self.disabler.disable(connections)
                    closed += len(connections)
                    continue
                tuning = StreamTuning.resolve(self.settings, self.flags.knobs(user_id))
                for connection in connections:
                    tuning.apply(connection)
            await asyncio.sleep(0)
        if closed:
            spread = f" (spread over {self.disabler.window:g} s)" if self.disabler.window > 0 else ""
            log.info("flag change ends %d streams of users outside the rollout%s", closed, spread)

    async def drain(self) -> None:
        """SIGTERM: refuse new streams, send everyone away, wait for them up to the grace."""
        self.hub.start_draining()
        deadline = time.monotonic() + self.settings.shutdown_grace
        while self.hub.connection_count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        broker_state = await self.broker_probe.readiness()
        broker_problem = broker_state.problem
        health = self.flags.health()
        broker: dict[str, Any] = {"backend": self.broker.name, "state": broker_state.state}
        if broker_state.state == "timeout":
            broker["last_known"] = broker_state.last_known
        body: dict[str, Any] = {
            "broker": broker,
            "flags": {
                "state": health.freshness.value,
                "source": health.source,
                "last_refresh": health.last_refresh,
                "error": health.error,
                "outages": health.outages,
            },
            "draining": self.hub.draining,
            "instance": f"{socket.gethostname()}:{os.getpid()}",
        }
        reasons = []
        if broker_problem is not None:
            reasons.append(broker_problem)
        if health.freshness is FlagFreshness.UNKNOWN:
            reasons.append("no flag state known yet")
        if self.hub.draining:
            reasons.append("draining")
        body["status"] = "ready" if not reasons else "unavailable"
        if reasons:
            body["reason"] = "; ".join(reasons)
        return not reasons, body

    async def _renew_leases(self) -> None:
        leases = [(c.user_id, c.id) for c in self.hub.connections()]
        if leases:
            await self.broker.renew_leases(leases)

    async def _every(self, seconds: float, action: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                result = action()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                self.metrics.error("background")
                log.warning("background task %s failed", getattr(action, "__name__", action), exc_info=True)
