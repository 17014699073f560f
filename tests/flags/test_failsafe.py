"""The server backend when Unleash is away: bootstrap, last known state, fail-safe, quiet logs."""

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flags import FlagFreshness, FlagGateConfig, UnleashFlagGate, build_flag_gate
from tests.flags.expected import expected_users
from tests.flags.fake_unleash import FakeUnleash
from tests.flags.flag_documents import rollout_feature, write

USERS = [f"user-{n}" for n in range(200)]
DEADLINE = 15.0


async def eventually(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here once the socket is closed


def gate_for(url: str, tmp_path: Path, **config) -> tuple[UnleashFlagGate, list]:
    evaluations: list[tuple[str, str]] = []
    gate = build_flag_gate(
        FlagGateConfig(
            unleash_url=url,
            unleash_api_token="default:development.test",
            refresh_interval=0.2,
            cache_directory=str(tmp_path / "cache"),
            on_evaluation=lambda f, r: evaluations.append((f, r)),
            **config,
        )
    )
    assert isinstance(gate, UnleashFlagGate)
    return gate, evaluations


@pytest.mark.parametrize("failsafe, expected", [("off", False), ("on", True)])
async def test_no_state_at_all_applies_the_failsafe(tmp_path: Path, failsafe: str, expected: bool):
    gate, evaluations = gate_for(closed_port_url(), tmp_path, failsafe=failsafe)
    await gate.start()
    try:
        await eventually(lambda: gate.health().error is not None, "the first failed fetch")
        assert [gate.is_enabled(user) for user in USERS[:3]] == [expected] * 3
        assert set(evaluations) == {("sse-delivery", "fallback")}
        health = gate.health()
        assert health.freshness is FlagFreshness.UNKNOWN
        assert health.outages == 1
        assert health.source.startswith("unleash:http://127.0.0.1:")
    finally:
        await gate.stop()


async def test_bootstrap_answers_the_first_request_before_any_fetch(tmp_path: Path):
    bootstrap = write(tmp_path / "bootstrap.json", rollout_feature(percent=30))
    gate, evaluations = gate_for(closed_port_url(), tmp_path, flags_file=str(bootstrap))
    await gate.start()
    try:
        # No await between start and the question: no fetch can have happened.
        enabled = {user for user in USERS if gate.is_enabled(user)}
        assert enabled == expected_users("sse-delivery", USERS, 30)
        assert {result for _, result in evaluations} == {"enabled", "disabled"}
        assert gate.health().freshness is FlagFreshness.STALE
    finally:
        await gate.stop()


async def test_outage_keeps_last_state_logs_once_and_recovers(tmp_path: Path, caplog):
    with FakeUnleash() as unleash:
        unleash.features = [rollout_feature(percent=50)]
        gate, _ = gate_for(unleash.url, tmp_path)
        changed = asyncio.Event()
        gate.subscribe(changed.set)
        caplog.set_level(logging.INFO)
        caplog.set_level(logging.INFO, logger="UnleashClient")  # whatever level the suite gave it
        await gate.start()
        try:
            await asyncio.wait_for(changed.wait(), DEADLINE)
            in_rollout = expected_users("sse-delivery", USERS, 50)
            assert {u for u in USERS if gate.is_enabled(u)} == in_rollout
            assert gate.health().freshness is FlagFreshness.FRESH
            assert unleash.authorization == "default:development.test"

            unleash.status = 503
            failing_since = unleash.requests_seen()
            await eventually(lambda: unleash.requests_seen() >= failing_since + 4, "several failing polls")
            assert {u for u in USERS if gate.is_enabled(u)} == in_rollout
            health = gate.health()
            assert (health.freshness, health.outages) == (FlagFreshness.STALE, 1)
            assert "503" in health.error

            unleash.status = 200
            await eventually(lambda: gate.health().freshness is FlagFreshness.FRESH, "recovery")
            assert gate.health().outages == 1
        finally:
            await gate.stop()
    outage_lines = [r for r in caplog.records if r.levelno >= logging.WARNING and "cannot refresh" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not [r for r in caplog.records if r.name.startswith("UnleashClient") and r.levelno >= logging.WARNING]


async def test_refused_connections_count_as_one_outage_without_tracebacks(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="UnleashClient")  # whatever level the suite gave it
    gate, _ = gate_for(closed_port_url(), tmp_path)
    await gate.start()
    try:
        await eventually(lambda: gate.health().error is not None, "a failed fetch")
        first_error = gate.health().error
        polls = lambda: sum(r.getMessage() == "Getting feature flag." for r in caplog.records)  # noqa: E731
        await eventually(lambda: polls() >= 4, "several failing polls")
        assert gate.health().outages == 1
        assert "Connection refused" in first_error or "Max retries" in first_error
    finally:
        await gate.stop()
    assert not [r for r in caplog.records if r.name.startswith("UnleashClient") and r.levelno >= logging.WARNING]
    assert len([r for r in caplog.records if "cannot refresh" in r.getMessage()]) == 1


async def test_the_cache_directory_carries_last_state_into_the_next_start(tmp_path: Path):
    with FakeUnleash() as unleash:
        unleash.features = [rollout_feature(percent=100)]
        gate, _ = gate_for(unleash.url, tmp_path)
        changed = asyncio.Event()
        gate.subscribe(changed.set)
        await gate.start()
        await asyncio.wait_for(changed.wait(), DEADLINE)
        await gate.stop()

    restarted, evaluations = gate_for(closed_port_url(), tmp_path)
    await restarted.start()
    try:
        assert restarted.is_enabled("user-1") is True
        assert evaluations == [("sse-delivery", "enabled")]
    finally:
        await restarted.stop()


async def test_flag_changes_on_the_server_reach_listeners_on_the_loop(tmp_path: Path):
    with FakeUnleash() as unleash:
        unleash.features = [rollout_feature(percent=100)]
        gate, _ = gate_for(unleash.url, tmp_path)
        loop = asyncio.get_running_loop()
        calls: list[bool] = []
        changed = asyncio.Event()

        def listener() -> None:
            calls.append(asyncio.get_running_loop() is loop)
            changed.set()

        gate.subscribe(listener)
        await gate.start()
        try:
            await asyncio.wait_for(changed.wait(), DEADLINE)
            assert gate.is_enabled("user-1")
            changed.clear()
            unleash.features = [rollout_feature(percent=100, enabled=False)]
            await asyncio.wait_for(changed.wait(), DEADLINE)
            assert not gate.is_enabled("user-1")
            assert calls and all(calls)
        finally:
            await gate.stop()


def test_bad_unleash_url_is_one_clear_error():
    with pytest.raises(ValueError, match="unleash_url must be an http\\(s\\) URL, got 'localhost:4242'"):
        build_flag_gate(FlagGateConfig(unleash_url="localhost:4242"))
