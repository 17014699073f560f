"""FlagAdmin over the local flags file, read back by the real gate."""

import asyncio
import json
from pathlib import Path

import pytest

from flags import FileFlagAdmin, FlagConfigError, FlagGateConfig, RolloutState, build_flag_admin, build_flag_gate
from tests.flags.expected import expected_users
from tests.flags.flag_documents import tuning_feature, write

USERS = [f"user-{n}" for n in range(400)]


async def decisions(path: Path) -> set[str]:
    gate = build_flag_gate(FlagGateConfig(flags_file=str(path)))
    await gate.start()
    try:
        return {user for user in USERS if gate.is_enabled(user)}
    finally:
        await gate.stop()


async def test_a_missing_file_and_flag_start_disabled_at_zero(tmp_path: Path):
    admin = build_flag_admin(flags_file=str(tmp_path / "flags.json"))
    assert await admin.state() == RolloutState("sse-delivery", enabled=False, percentage=0, allowlist=())
    await admin.enable()
    assert await admin.state() == RolloutState("sse-delivery", enabled=True, percentage=0, allowlist=())
    assert await decisions(tmp_path / "flags.json") == set()


async def test_growing_rollout_keeps_everyone_already_in(tmp_path: Path):
    path = tmp_path / "flags.json"
    admin = FileFlagAdmin(path)
    await admin.enable()
    await admin.set_rollout(25)
    at_25 = await decisions(path)
    assert at_25 == expected_users("sse-delivery", USERS, 25)
    await admin.set_rollout(50)
    at_50 = await decisions(path)
    assert at_50 == expected_users("sse-delivery", USERS, 50)
    assert at_25 < at_50
    strategies = json.loads(path.read_text())["features"][0]["strategies"]
    assert len(strategies) == 1
    assert strategies[0]["parameters"] == {"rollout": "50", "stickiness": "userId", "groupId": "sse-delivery"}


async def test_allowlist_is_a_separate_strategy(tmp_path: Path):
    path = tmp_path / "flags.json"
    admin = FileFlagAdmin(path)
    await admin.set_rollout(0)
    await admin.set_allowlist(["staff-1", "staff-2", "staff-1"])
    await admin.enable()
    assert await admin.state() == RolloutState("sse-delivery", True, 0, ("staff-1", "staff-2"))
    gate = build_flag_gate(FlagGateConfig(flags_file=str(path)))
    await gate.start()
    try:
        assert [gate.is_enabled(u) for u in ("staff-1", "staff-2", "user-1")] == [True, True, False]
    finally:
        await gate.stop()
    await admin.set_allowlist([])
    assert (await admin.state()).allowlist == ()
    assert len(json.loads(path.read_text())["features"][0]["strategies"]) == 1


async def test_disable_turns_everyone_off_and_other_flags_are_kept(tmp_path: Path):
    path = write(tmp_path / "flags.json", tuning_feature('{"ping_interval": 5}'))
    admin = FileFlagAdmin(path)
    await admin.set_rollout(100)
    await admin.enable()
    assert await decisions(path) == set(USERS)
    await admin.disable()
    assert await decisions(path) == set()
    names = [feature["name"] for feature in json.loads(path.read_text())["features"]]
    assert names == ["sse-tuning", "sse-delivery"]


async def test_rewrites_are_atomic_and_leave_no_temp_files(tmp_path: Path):
    path = tmp_path / "flags.json"
    admin = FileFlagAdmin(path)
    await asyncio.gather(*(admin.set_rollout(percent) for percent in range(0, 101, 5)))
    assert (await admin.state()).percentage in range(0, 101, 5)
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]


@pytest.mark.parametrize("percent", [-1, 101, 12.5, True, "50"])
async def test_bad_percentages_are_refused(tmp_path: Path, percent):
    with pytest.raises(ValueError, match="0..100"):
        await FileFlagAdmin(tmp_path / "flags.json").set_rollout(percent)
    assert not (tmp_path / "flags.json").exists()


async def test_bad_allowlists_are_refused(tmp_path: Path):
    admin = FileFlagAdmin(tmp_path / "flags.json")
    with pytest.raises(ValueError, match="not one string"):
        await admin.set_allowlist("staff-1")
    with pytest.raises(ValueError, match="non-empty"):
        await admin.set_allowlist(["ok", " "])


def test_admin_needs_a_file_or_a_server():
    with pytest.raises(FlagConfigError, match="flags file or an Unleash URL"):
        build_flag_admin()
