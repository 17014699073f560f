"""The server-backed FlagGate against a real unleash-server: rollout math, changes, outages."""

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from flags import FlagFreshness, FlagGateConfig, UnleashFlagAdmin, build_flag_gate
from tests.flags.expected import expected_users
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.unleash, pytest.mark.slow]

USERS = [f"user-{n}" for n in range(500)]
REFRESH = 1.0
# Unleash itself takes a moment to publish an admin change to its client API.
PROPAGATION = REFRESH + 2.0


async def eventually(condition: Callable[[], bool], what: str, timeout: float) -> float:
    """Seconds until ``condition`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout:.1f} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_rollout_grows_shrinks_and_survives_an_outage(unleash: UnleashServer, tmp_path: Path):
    flag = f"sse-delivery-{uuid.uuid4().hex[:8]}"
    admin = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag)
    await admin.set_rollout(25)
    await admin.enable()
    await asyncio.to_thread(unleash.wait_served, flag, enabled=True, rollout=25)

    gate = build_flag_gate(
        FlagGateConfig(
            rollout_flag=flag,
            unleash_url=unleash.url,
            unleash_api_token=unleash.client_token,
            refresh_interval=REFRESH,
            cache_directory=str(tmp_path / "unleash-cache"),
        )
    )
    changes = asyncio.Queue()
    gate.subscribe(lambda: changes.put_nowait(time.monotonic()))
    enabled = lambda: {user for user in USERS if gate.is_enabled(user)}  # noqa: E731
    await gate.start()
    try:
        await asyncio.wait_for(changes.get(), 30)
        at_25 = expected_users(flag, USERS, 25)
        assert enabled() == at_25
        assert 0 < len(at_25) < len(USERS)
        assert gate.health().freshness is FlagFreshness.FRESH

        await admin.set_rollout(50)
        await eventually(lambda: enabled() != at_25, "the 50 % rollout reaching the gate", PROPAGATION)
        at_50 = enabled()
        assert at_50 == expected_users(flag, USERS, 50)
        assert at_25 < at_50, "everyone already in stays in as the rollout grows"

        await admin.disable()
        await asyncio.to_thread(unleash.wait_served, flag, enabled=False)
        # From the moment Unleash serves the change, one refresh (plus scheduling slack).
        took = await eventually(lambda: not enabled(), "disable turning everyone off", REFRESH + 1.0)
        print(f"disable reached the gate {took:.2f} s after Unleash served it (refresh interval {REFRESH} s)")

        await admin.enable()
        await eventually(lambda: enabled() == at_50, "re-enabling at 50 %", PROPAGATION)

        unleash.stop()
        took = await eventually(lambda: gate.health().freshness is FlagFreshness.STALE, "health turning stale", 10 * REFRESH)
        print(f"health turned stale {took:.2f} s after Unleash stopped")
        health = gate.health()
        assert health.outages == 1 and health.error
        assert enabled() == at_50, "the last known state holds while Unleash is away"

        unleash.start()
        await eventually(lambda: gate.health().freshness is FlagFreshness.FRESH, "recovery", 10 * REFRESH)
        await admin.set_rollout(75)
        await eventually(lambda: enabled() == expected_users(flag, USERS, 75), "changes applying again", PROPAGATION)
        assert gate.health().outages == 1
    finally:
        await gate.stop()


async def test_a_fresh_gate_on_an_unknown_flag_falls_back(unleash: UnleashServer, tmp_path: Path):
    results: list[str] = []
    gate = build_flag_gate(
        FlagGateConfig(
            rollout_flag=f"never-created-{uuid.uuid4().hex[:8]}",
            unleash_url=unleash.api_url,
            unleash_api_token=unleash.client_token,
            refresh_interval=REFRESH,
            failsafe="on",
            cache_directory=str(tmp_path / "unleash-cache"),
            on_evaluation=lambda flag, result: results.append(result),
        )
    )
    await gate.start()
    try:
        await eventually(lambda: gate.health().freshness is FlagFreshness.FRESH, "the first fetch", 30)
        assert gate.is_enabled("user-1") is True
        assert results == ["fallback"]
    finally:
        await gate.stop()


async def test_a_wrong_client_token_is_an_outage_with_the_status(unleash: UnleashServer, tmp_path: Path):
    gate = build_flag_gate(
        FlagGateConfig(
            unleash_url=unleash.url,
            unleash_api_token="default:development.wrong",
            refresh_interval=REFRESH,
            cache_directory=str(tmp_path / "unleash-cache"),
        )
    )
    await gate.start()
    try:
        await eventually(lambda: gate.health().error is not None, "the refused fetch", 30)
        health = gate.health()
        assert health.freshness is FlagFreshness.UNKNOWN
        assert "HTTP 401" in health.error
        assert gate.is_enabled("user-1") is False
    finally:
        await gate.stop()
