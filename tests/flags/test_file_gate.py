"""The offline backend: the real UnleashClient over a flags file that is edited while it runs."""

import asyncio
import logging
import os
import shutil
from pathlib import Path

import pytest

from flags import (
    DEFAULT_FLAGS_FILE,
    FlagFreshness,
    FlagGateConfig,
    FlagsFileError,
    build_flag_gate,
)
from tests.flags.expected import expected_users
from tests.flags.flag_documents import rollout_feature, write

USERS = [f"user-{n}" for n in range(300)]
WAIT = 10.0  # upper bound for one refresh to land; tests return as soon as it does


async def started(path: Path, **config) -> tuple:
    evaluations: list[tuple[str, str]] = []
    gate = build_flag_gate(
        FlagGateConfig(
            flags_file=str(path),
            refresh_interval=0.05,
            on_evaluation=lambda flag, result: evaluations.append((flag, result)),
            **config,
        )
    )
    await gate.start()
    changed = asyncio.Event()
    gate.subscribe(changed.set)
    return gate, changed, evaluations


async def test_shipped_defaults_turn_delivery_on_for_everyone():
    gate = build_flag_gate(FlagGateConfig())
    await gate.start()
    try:
        assert all(gate.is_enabled(user) for user in USERS)
        health = gate.health()
        assert health.freshness is FlagFreshness.FRESH
        assert health.source == f"file:{DEFAULT_FLAGS_FILE}"
    finally:
        await gate.stop()


async def test_editing_the_file_fires_listeners_and_changes_decisions(tmp_path: Path):
    path = write(tmp_path / "flags.json", rollout_feature(percent=100))
    gate, changed, evaluations = await started(path)
    try:
        assert all(gate.is_enabled(user) for user in USERS)

        write(path, rollout_feature(percent=25))
        await asyncio.wait_for(changed.wait(), WAIT)
        assert {u for u in USERS if gate.is_enabled(u)} == expected_users("sse-delivery", USERS, 25)

        changed.clear()
        write(path, rollout_feature(percent=25, enabled=False))
        await asyncio.wait_for(changed.wait(), WAIT)
        assert not any(gate.is_enabled(user) for user in USERS)
        assert ("sse-delivery", "enabled") in evaluations and ("sse-delivery", "disabled") in evaluations
    finally:
        await gate.stop()


async def test_rewriting_the_same_flags_is_not_a_change(tmp_path: Path):
    path = write(tmp_path / "flags.json", rollout_feature(percent=40))
    gate, changed, _ = await started(path)
    try:
        os.utime(path)
        write(path, rollout_feature(percent=40))
        assert await gate.refresh() is False
        assert not changed.is_set()
    finally:
        await gate.stop()


@pytest.mark.parametrize("bad_content", ["{not json", '{"features": "nope"}', "", '{"features": [{"name": "x"}]}'])
async def test_a_bad_file_keeps_the_last_good_state(tmp_path: Path, caplog, bad_content: str):
    path = write(tmp_path / "flags.json", rollout_feature(percent=100))
    gate, changed, _ = await started(path)
    try:
        with caplog.at_level(logging.WARNING, logger="flags"):
            path.write_text(bad_content)
            for _ in range(3):  # several failing refreshes: one warning, one outage
                assert await gate.refresh() is False
        assert all(gate.is_enabled(user) for user in USERS)
        health = gate.health()
        assert health.freshness is FlagFreshness.STALE
        assert health.outages == 1
        assert str(path) in health.error
        assert len([r for r in caplog.records if "cannot refresh" in r.getMessage()]) == 1

        write(path, rollout_feature(percent=100, enabled=False))
        await asyncio.wait_for(changed.wait(), WAIT)
        assert gate.health().freshness is FlagFreshness.FRESH
        assert not gate.is_enabled("user-1")
    finally:
        await gate.stop()


async def test_a_deleted_file_keeps_the_last_good_state(tmp_path: Path):
    path = write(tmp_path / "flags.json", rollout_feature(percent=100))
    gate, _, _ = await started(path)
    try:
        path.unlink()
        await gate.refresh()
        assert gate.is_enabled("user-1")
        assert "cannot read" in gate.health().error
    finally:
        await gate.stop()


async def test_an_unusable_file_at_start_is_one_clear_error(tmp_path: Path):
    gate = build_flag_gate(FlagGateConfig(flags_file=str(tmp_path / "missing.json")))
    with pytest.raises(FlagsFileError) as error:
        await gate.start()
    assert str(error.value) == f"flags file {tmp_path / 'missing.json'}: cannot read: No such file or directory"
    assert "\n" not in str(error.value)


async def test_an_unknown_rollout_flag_is_a_fallback(tmp_path: Path):
    path = write(tmp_path / "flags.json", rollout_feature(name="something-else"))
    for failsafe, expected in (("off", False), ("on", True)):
        gate, _, evaluations = await started(path, failsafe=failsafe)
        try:
            assert gate.is_enabled("user-1") is expected
            assert evaluations == [("sse-delivery", "fallback")]
        finally:
            await gate.stop()


async def test_the_watcher_refreshes_on_its_own(tmp_path: Path):
    path = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_FILE, path)
    gate, changed, _ = await started(path)
    try:
        write(path, rollout_feature(percent=0))
        await asyncio.wait_for(changed.wait(), WAIT)
        assert not gate.is_enabled("user-1")
    finally:
        await gate.stop()
