"""The read-only view of a rollout for instances that do not run its controller."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.live_view import status_document, timeline_document
from rollout.observer import RolloutObserver
from rollout.store import FileStateStore
from rollout.types import CheckResult, GateReading, RolloutError, Verdict
from tests.rollout.rollout_story import STORY_PLAN, play_story
from tests.rollout.rollout_support import healthy


async def test_only_the_most_recent_checks_are_read_from_a_long_file(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path / "state.json")
    reading = (GateReading("error_ratio", 0.0, "<= 0.01", 500, Verdict.PASS),)
    for i in range(50):
        await store.append_check(CheckResult(1_800_000_000.0 + i, 0, reading, healthy()))
    observer = RolloutObserver(str(tmp_path / "none.toml"), str(tmp_path / "state.json"), "sse-delivery", recent_checks=10)
    snapshot = await observer.read(0.0)
    assert [c.time - 1_800_000_000.0 for c in snapshot.checks] == list(range(40, 50))
    assert snapshot.state is None and status_document(snapshot, 0.0) is None


async def test_the_timeline_says_who_did_what_and_which_checks_held(tmp_path: Path) -> None:
    plan = tmp_path / "rollout.toml"
    plan.write_text(STORY_PLAN)
    story = await play_story(FileStateStore(tmp_path / "state.json"))
    snapshot = await RolloutObserver(str(plan), str(tmp_path / "state.json"), "sse-delivery").read(story.rolled_back + 5)
    timeline = timeline_document(snapshot)
    verdicts = {c["t"]: c["verdict"] for c in timeline["checks"]}
    assert [verdicts[t] for t in story.no_data] == ["no_data"] * 4
    assert [verdicts[t] for t in story.held] == ["hold"] * 3  # passed while waiting for approval
    assert [verdicts[t] for t in story.failed] == ["fail"] * 3
    assert verdicts[story.awaiting_approval] == "pass"  # the check that asked for approval
    assert [(e["kind"], e["actor"], e["action"]) for e in timeline["events"]] == [
        ("manual", "alice", "start"),
        ("automatic", "controller", "advance"),
        ("automatic", "controller", "await_approval"),
        ("manual", "bob", "approve"),
        ("rollback", "controller", "rollback"),
    ]
    assert [s["percentage"] for s in timeline["steps"]] == [0, 5, 5, 50, 5]
    status = status_document(snapshot, story.rolled_back + 5)
    assert status is not None and status["phase"] == "rolled_back" and "3 consecutive failed checks" in status["message"]


async def test_a_state_of_another_flag_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "rollout.toml"
    plan.write_text(STORY_PLAN.replace('flag = "sse-delivery"', 'flag = "other"'))
    await play_story(FileStateStore(tmp_path / "state.json"))
    with pytest.raises(RolloutError, match="holds the rollout of 'sse-delivery', not of 'other'"):
        await RolloutObserver(str(plan), str(tmp_path / "state.json"), "other").read(0.0)
