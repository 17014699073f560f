"""The rollout status cache: requests read it, only its own task does I/O."""

from __future__ import annotations

import pytest

from rollout.observer import RolloutSnapshot
from rollout.types import ControllerState, Phase, RolloutError
from sse_service.config import ConfigError, load_settings
from sse_service.rollout_status import RolloutStatusCache


class ScriptedObserver:
    def __init__(self) -> None:
        self.next: RolloutSnapshot | Exception | None = None

    async def read(self, now: float) -> RolloutSnapshot:
        assert self.next is not None
        if isinstance(self.next, Exception):
            raise self.next
        return self.next

    async def close(self) -> None:
        pass


def snapshot(phase: Phase, read_at: float) -> RolloutSnapshot:
    state = ControllerState(flag="sse-delivery", phase=phase, step=0, phase_since=read_at, step_since=read_at)
    return RolloutSnapshot("sse-delivery", None, state, (), (), read_at)


async def test_a_failed_read_keeps_the_last_state_and_says_why() -> None:
    observer = ScriptedObserver()
    cache = RolloutStatusCache(lambda: observer, 2.0, clock=lambda: 100.0)  # type: ignore[arg-type, return-value]
    assert cache.status() is None and cache.timeline() == (0, None)
    observer.next = snapshot(Phase.PROGRESSING, 90.0)
    await cache.refresh(observer)  # type: ignore[arg-type]
    assert cache.status()["phase"] == "progressing" and "error" not in cache.status()
    version = cache.timeline()[0]
    await cache.refresh(observer)  # type: ignore[arg-type]
    assert cache.timeline()[0] == version, "an unchanged rollout is not re-sent to every dashboard"
    observer.next = RolloutError("redis redis://:***@cache:6379/0: cannot read the rollout: Timeout")
    await cache.refresh(observer)  # type: ignore[arg-type]
    status = cache.status()
    assert status["phase"] == "progressing"
    assert status["error"].startswith("redis redis://:***@cache") and status["error_since"] == 100.0
    observer.next = snapshot(Phase.PAUSED, 95.0)
    await cache.refresh(observer)  # type: ignore[arg-type]
    assert cache.status()["phase"] == "paused" and "error" not in cache.status()
    assert cache.timeline()[0] == version + 1


def test_the_refresh_interval_is_validated() -> None:
    assert load_settings(env={"FLAGSTREAM_ROLLOUT_STATUS_INTERVAL": "5"}).rollout_status_interval == 5.0
    with pytest.raises(ConfigError, match="^FLAGSTREAM_ROLLOUT_STATUS_INTERVAL: must be at least 0.1"):
        load_settings(env={"FLAGSTREAM_ROLLOUT_STATUS_INTERVAL": "0"})


async def test_an_observer_that_cannot_be_built_is_an_error_on_the_panel_not_a_failed_start() -> None:
    def broken():  # type: ignore[no-untyped-def]
        raise ValueError("Port could not be cast to integer value as 'x' for redis://:hunter2@cache:x/0")

    cache = RolloutStatusCache(broken, 2.0, clock=lambda: 7.0)
    lifecycle = cache.while_serving()
    await anext(lifecycle)
    status = cache.status()
    assert status is not None and "hunter2" not in status["error"] and "redis://:***@cache" in status["error"]
    with pytest.raises(StopAsyncIteration):
        await anext(lifecycle)
