"""Rollout metrics as domain events: where the rollout is, how it moved, what the gates read.

The controller reports ``phase_changed``, ``transition`` and ``gate_checked``; this
module turns them into Prometheus series. The registry is injected.

Example::

    registry = CollectorRegistry()
    metrics = PrometheusRolloutMetrics(registry)
    metrics.phase_changed("sse-delivery", phase_code=1, percentage=5)
    metrics.transition("sse-delivery", "advance")
    metrics.gate_checked("sse-delivery", "delivery_p99", 0.012, passed=True)
    server = serve_rollout_metrics(registry, port=9109)   # what `rollout watch --metrics-port` does
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class RolloutMetrics(Protocol):
    def phase_changed(self, flag: str, phase_code: int, percentage: int) -> None: ...
    def transition(self, flag: str, action: str) -> None: ...
    def gate_checked(self, flag: str, gate: str, value: float | None, passed: bool | None) -> None: ...


class NoopRolloutMetrics:
    def phase_changed(self, flag: str, phase_code: int, percentage: int) -> None:
        pass

    def transition(self, flag: str, action: str) -> None:
        pass

    def gate_checked(self, flag: str, gate: str, value: float | None, passed: bool | None) -> None:
        pass


class PrometheusRolloutMetrics:
    """``rollout_phase`` and ``rollout_percentage`` (API.md), transitions and gate values.

    Labels are the flag, the action and the gate name: all come from the plan, so
    their number is bounded by what a release manager wrote.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._phase = Gauge(
            "rollout_phase",
            "Rollout phase: 0 pending, 1 progressing, 2 paused, 3 awaiting_approval, 4 rolled_back, 5 completed.",
            ["flag"],
            registry=registry,
        )
        self._percentage = Gauge("rollout_percentage", "Percentage of users in the rollout.", ["flag"], registry=registry)
        self._transitions = Counter(
            "rollout_transitions", "Rollout state transitions, by action.", ["flag", "action"], registry=registry
        )
        self._gate_value = Gauge(
            "rollout_gate_value", "The last value a rollout gate read (NaN: no data).", ["flag", "gate"], registry=registry
        )
        self._gate_passing = Gauge(
            "rollout_gate_passing",
            "1 if the gate passed its last check, 0 if it failed, -1 no data.",
            ["flag", "gate"],
            registry=registry,
        )

    def phase_changed(self, flag: str, phase_code: int, percentage: int) -> None:
        self._phase.labels(flag).set(phase_code)
        self._percentage.labels(flag).set(percentage)

    def transition(self, flag: str, action: str) -> None:
        self._transitions.labels(flag, action).inc()

    def gate_checked(self, flag: str, gate: str, value: float | None, passed: bool | None) -> None:
        self._gate_value.labels(flag, gate).set(float("nan") if value is None else value)
        self._gate_passing.labels(flag, gate).set(-1 if passed is None else int(passed))


def create_rollout_metrics() -> PrometheusRolloutMetrics:
    """Rollout metrics on a fresh registry of their own (what `rollout watch` uses)."""
    return PrometheusRolloutMetrics(CollectorRegistry())


def serve_rollout_metrics(metrics: PrometheusRolloutMetrics, port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """Serve the metrics at http://host:port/metrics from a daemon thread; returns a stop function."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
