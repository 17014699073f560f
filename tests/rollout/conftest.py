from __future__ import annotations

import pytest

from rollout.controller import RolloutController
from rollout.plan import parse_plan
from rollout.store import FileStateStore
from tests.rollout.rollout_support import FakeClock, MemoryFlagAdmin, ScriptedSource, healthy

PLAN = """
flag = "sse-delivery"
failure_limit = 3
min_traffic = 100
bake_time = "10m"
interval = "1m"

[[steps]]
name = "internal"
allowlist = ["alice", "bob"]

[[steps]]
name = "five"
percentage = 5

[[steps]]
name = "half"
percentage = 50
approval = true

[[steps]]
name = "all"
percentage = 100
"""


@pytest.fixture
def plan():
    return parse_plan(PLAN)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def admin():
    return MemoryFlagAdmin()


@pytest.fixture
def source():
    return ScriptedSource(healthy())


@pytest.fixture
def store(tmp_path):
    return FileStateStore(tmp_path / "state.json")


@pytest.fixture
def controller(plan, store, admin, source, clock):
    return RolloutController(plan, store, admin, source, clock=clock)
