"""The broker probe behind /readyz: a deadline of its own, one check in flight."""

from __future__ import annotations

import asyncio

from sse_service.readiness import BrokerProbe


class HangingBroker:
    name = "test"

    def __init__(self) -> None:
        self.checks = 0
        self.release = asyncio.Event()
        self.problem: str | None = None

    async def check(self) -> str | None:
        self.checks += 1
        await self.release.wait()
        return self.problem


async def test_a_hanging_check_answers_timeout_with_the_last_known_state_and_is_not_repeated() -> None:
    broker = HangingBroker()
    broker.release.set()
    probe = BrokerProbe(broker, timeout=0.05)  # type: ignore[arg-type]
    assert (await probe.readiness()).state == "ok"
    broker.release.clear()
    first, second = await probe.readiness(), await probe.readiness()
    assert (first.state, first.last_known) == ("timeout", "ok") and "within 0.05 s" in (first.problem or "")
    assert second.state == "timeout" and broker.checks == 2  # the hanging check is shared, not piled up
    broker.problem = "redis unreachable"
    broker.release.set()
    recovered = await probe.readiness()
    assert (recovered.state, recovered.problem) == ("unavailable", "redis unreachable")
    await probe.stop()


async def test_a_check_that_raises_reports_instead() -> None:
    class Broken(HangingBroker):
        async def check(self) -> str | None:
            raise ConnectionError("boom")

    probe = BrokerProbe(Broken(), timeout=1)  # type: ignore[arg-type]
    state = await probe.readiness()
    assert (state.state, state.problem) == ("unavailable", "broker check failed: ConnectionError")
