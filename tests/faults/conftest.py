"""The fault-injection suite: real Redis, real `flagstream serve` processes, real HAProxy,
a real network black hole. Every test is slow; CI runs them all."""

from __future__ import annotations

import json
import os

import pytest

from loadtest.faults.processes import MissingTool
from loadtest.faults.scenarios import FAULTS, FaultOutcome, run_fault
from tests.support.requirements import missing

USERS = 20  # bounded: the whole suite stays within a few minutes on two cores


@pytest.fixture
def fault_run(record_property):
    """`await fault_run("redis-pause")` → the outcome, its figures printed and recorded."""

    async def run(name: str, users: int = USERS, hold: float = 3.0) -> FaultOutcome:
        try:
            outcome = await run_fault(FAULTS[name], users, hold=hold)
        except MissingTool as exc:
            missing(str(exc))
            raise
        figures = {
            "fault": name,
            "users": users,
            "rounds": outcome.rounds,
            "recovery_s": outcome.recovery_s,
            "longest_silence_s": outcome.longest_silence_s,
            "lost": outcome.verdict.lost,
            "duplicated": outcome.verdict.duplicated,
            "publish_failures": outcome.publish_failures,
            "endings": outcome.endings,
            **outcome.figures,
        }
        print("fault figures:", json.dumps(figures))
        for key, value in figures.items():
            record_property(key, value)
        record = os.environ.get("FLAGSTREAM_FAULT_RECORD")
        if record:
            with open(record, "a") as fh:
                fh.write(json.dumps(figures) + "\n")
        return outcome

    return run
