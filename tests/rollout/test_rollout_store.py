"""Both state stores keep state, audit and checks across controllers, and their locks exclude."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from rollout.store import FileStateStore, held, open_store
from rollout.types import CheckResult, ControllerState, GateReading, LockHeld, Phase, RolloutError, Transition, Verdict
from tests.rollout.rollout_support import healthy


@pytest.fixture(params=["file", "redis"])
def make_store(request, tmp_path):
    if request.param == "file":
        yield lambda: open_store(str(tmp_path / "state.json"), "sse-delivery")
        return
    url = request.getfixturevalue("redis_url")
    flag = f"test-{uuid.uuid4().hex[:12]}"
    yield lambda: open_store(url, flag)
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"flagstream:rollout:{flag}:*"))
    if keys:
        client.delete(*keys)


async def test_state_audit_and_checks_survive_a_new_store(make_store):
    reading = GateReading("error_ratio", 0.5, "<= 0.01", 100, Verdict.FAIL)
    first = make_store()
    state = ControllerState(flag="f", phase=Phase.PAUSED, step=2, last_check=(reading,), next_check_at=12.5)
    await first.save(state)
    await first.append_transition(Transition(1.0, "alice", "pause", "progressing", "paused", "b", "b", 5, "why", (reading,)))
    await first.append_check(CheckResult(2.0, 2, (reading,), healthy(errors=3)))
    await first.close()
    second = make_store()
    assert await second.load() == state
    [transition] = await second.transitions()
    assert (transition.actor, transition.reason, transition.gates) == ("alice", "why", (reading,))
    [check] = await second.checks()
    assert check.sample == healthy(errors=3) and check.verdict is Verdict.FAIL
    await second.close()


async def test_a_fresh_store_is_empty(make_store):
    store = make_store()
    assert await store.load() is None and await store.transitions() == [] and await store.checks() == []
    await store.close()


async def test_only_one_holder_of_a_lock_at_a_time(make_store):
    a, b = make_store(), make_store()
    lease = a.lease("controller", expiry=30)
    await lease.acquire(wait=0)
    with pytest.raises(LockHeld, match="another rollout controller holds"):
        await b.lease("controller", expiry=30).acquire(wait=0.2)
    await lease.renew()
    await lease.release()
    async with held(b, "controller", wait=1):
        pass
    await a.close(), await b.close()


async def test_a_redis_lock_expires_when_its_holder_dies(redis_url):
    flag = f"test-{uuid.uuid4().hex[:12]}"
    dead, alive = open_store(redis_url, flag), open_store(redis_url, flag)
    try:
        await dead.lease("controller", expiry=0.5).acquire(wait=0)  # never renewed, never released
        lease = alive.lease("controller", expiry=30)
        await lease.acquire(wait=10)  # waits out the expiry
        await lease.release()
    finally:
        await dead.close(), await alive.close()


async def test_an_unreadable_state_file_is_one_clear_error(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(RolloutError, match=r"state.json: rollout state is unreadable .*move it aside"):
        await FileStateStore(tmp_path / "state.json").load()


async def test_a_torn_last_audit_line_is_skipped(tmp_path):
    store = FileStateStore(tmp_path / "state.json")
    await store.append_transition(Transition(1.0, "alice", "start", "pending", "progressing", None, "a", 0, "go"))
    with (tmp_path / "state.audit.jsonl").open("a") as handle:
        handle.write('{"time": 2.0, "act')  # a crash mid-write
    assert [t.action for t in await store.transitions()] == ["start"]


async def test_redis_unreachable_is_one_clear_error():
    store = open_store("redis://127.0.0.1:1/0", "f")
    with pytest.raises(RolloutError, match="redis redis://127.0.0.1:1/0: cannot read rollout state"):
        await asyncio.wait_for(store.load(), 10)
    await store.close()
