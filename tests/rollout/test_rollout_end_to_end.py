"""A real `flagstream serve`, the real flags-file admin, and `flagstream rollout watch` scraping /metrics.

Healthy traffic: the controller walks `sse-delivery` from the allowlist to 100 %.
A slow-consumer flood on a tiny queue: it rolls back at the failure_limit-th failed
check, and the open streams of users who left the rollout end with `event: disabled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from flags import FileFlagAdmin
from tests.support.inprocess import open_stream
from tests.support.redis_server import free_port
from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.slow

HEALTHY_PLAN = """
flag = "sse-delivery"
failure_limit = 3
min_traffic = 5
interval = "0.5s"
bake_time = "1.5s"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "half"
percentage = 50

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "delivery_p99_seconds"
max = 2.5            # generous: this machine is shared; the flood test is about the other gates
[[gates]]
measure = "error_ratio"
[[gates]]
measure = "rejection_ratio"
[[gates]]
measure = "slow_consumer_disconnects_per_minute"
"""

FLOOD_PLAN = """
flag = "sse-delivery"
failure_limit = 2
min_traffic = 1
interval = "1s"
bake_time = "1h"
rollback = "previous"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "everyone"
percentage = 100

[[gates]]
measure = "slow_consumer_disconnects_per_minute"
max = 6
"""


class Rollout:
    """The rollout CLI, run as a release manager would, against one plan and state file."""

    def __init__(
        self, tmp_path: Path, server: RunningServer, plan: str, flag_admin: list[str], metrics: list[str] | None = None
    ) -> None:
        self.plan = tmp_path / "rollout.toml"
        self.plan.write_text(plan)
        self.state = tmp_path / "state" / "rollout.json"
        self.args = [
            "--plan",
            str(self.plan),
            "--state",
            str(self.state),
            *flag_admin,
            *(metrics or ["--metrics-url", f"{server.url}/metrics"]),
        ]
        self.env = {**os.environ, "USER": "release-manager"}

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sse_service.cli", "rollout", *command, *self.args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def json(self, *command: str):  # type: ignore[no-untyped-def]
        done = self.run(*command, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    @contextlib.contextmanager
    def watching(self, *extra: str):  # type: ignore[no-untyped-def]
        log = self.state.parent / "watch.log"
        self.state.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            watch = subprocess.Popen(
                [sys.executable, "-m", "sse_service.cli", "rollout", "watch", *self.args, *extra],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            yield log
        finally:
            watch.send_signal(signal.SIGTERM)
            assert watch.wait(15) == 0, log.read_text()

    def phase(self) -> str | None:
        try:
            return json.loads(self.state.read_text())["phase"]
        except FileNotFoundError:
            return None

    def checks(self) -> list[dict]:
        return [json.loads(line) for line in self.state.with_suffix(".checks.jsonl").read_text().splitlines()]


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def flagstream(tmp_path: Path, **env: str) -> AsyncIterator[tuple[RunningServer, Path]]:
    flags_file = tmp_path / "flags.json"
    await FileFlagAdmin(flags_file).disable()  # nobody in the rollout before it starts
    server = await asyncio.to_thread(
        start_server,
        {
            "FLAGSTREAM_FLAGS_FILE": str(flags_file),
            "FLAGSTREAM_FLAGS_REFRESH_INTERVAL": "0.1",
            **env,
        },
    )
    try:
        yield server, flags_file
    finally:
        server.stop()


async def keep_listening(client: httpx.AsyncClient, server: RunningServer, user: str, seen: dict[str, list[str]]) -> None:
    """A user's app: stream when in the rollout, poll-and-retry when not, as the JS client does."""
    headers = {"Authorization": f"Bearer {server.user_token(user)}"}
    while True:
        async with client.stream("GET", f"{server.url}/v1/stream", headers=headers) as response:
            seen.setdefault(user, []).append(str(response.status_code))
            if response.status_code == 200:
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        seen[user].append(line[7:])
        await asyncio.sleep(0.2)


async def publish_forever(client: httpx.AsyncClient, server: RunningServer, body: dict, every: float) -> None:
    headers = {"Authorization": f"Bearer {server.publish_token}"}
    while True:
        response = await client.post(f"{server.url}/v1/notifications", json=body, headers=headers)
        assert response.status_code == 202, response.text
        await asyncio.sleep(every)


async def test_healthy_traffic_takes_the_flag_from_the_allowlist_to_everyone(tmp_path: Path) -> None:
    async with flagstream(tmp_path) as (server, flags_file):
        rollout = Rollout(tmp_path, server, HEALTHY_PLAN, ["--flags-file", str(flags_file)])
        users = ["alice"] + [f"user-{n}" for n in range(8)]
        seen: dict[str, list[str]] = {}
        async with httpx.AsyncClient(timeout=30) as client:
            tasks = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in users]
            tasks.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": {"n": 1}}, 0.02)))
            try:
                await until(lambda: all(user in seen for user in users), 20, "every user to try a stream")
                assert seen["user-0"][0] == "204", "before the rollout nobody is in"
                started = rollout.run("start")
                assert started.returncode == 0, started.stderr
                metrics_port = free_port()
                with rollout.watching("--metrics-port", str(metrics_port)) as log:
                    await until(lambda: rollout.phase() == "completed", 90, "the rollout to complete")
                    exported = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                await until(lambda: all("notification" in seen[user] for user in users), 20, "everyone to be streaming")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        state = await FileFlagAdmin(flags_file).state()
        assert (state.enabled, state.percentage, state.allowlist) == (True, 100, ("alice",)), log.read_text()
        history = [t for t in rollout.json("history") if t["action"] != "hold"]  # a no-data hold may come first
        assert [(t["actor"], t["action"], t["to_step"]) for t in history] == [
            ("release-manager", "start", "internal"),
            ("controller", "advance", "half"),
            ("controller", "advance", "everyone"),
            ("controller", "complete", "everyone"),
        ]
        for transition in history[1:]:
            assert {g["verdict"] for g in transition["gates"]} == {"pass"}, transition
        assert rollout.json("status")["phase"] == "completed"
        assert 'rollout_phase{flag="sse-delivery"} 5.0' in exported
        assert 'rollout_percentage{flag="sse-delivery"} 100.0' in exported
        assert 'rollout_transitions_total{action="advance",flag="sse-delivery"} 2.0' in exported
        assert 'rollout_gate_passing{flag="sse-delivery",gate="error_ratio"} 1.0' in exported
        report = rollout.run("report")
        assert report.returncode == 0 and "internal" in report.stdout and "everyone" in report.stdout, report.stderr


async def test_a_slow_consumer_flood_rolls_back_and_users_who_left_get_disabled(tmp_path: Path) -> None:
    async with flagstream(tmp_path, FLAGSTREAM_QUEUE_SIZE="2") as (server, flags_file):
        rollout = Rollout(tmp_path, server, FLOOD_PLAN, ["--flags-file", str(flags_file)])
        started = rollout.run("start", "--step", "everyone")
        assert started.returncode == 0, started.stderr
        auth = lambda user: {"Authorization": f"Bearer {server.user_token(user)}"}
        publish_headers = {"Authorization": f"Bearer {server.publish_token}"}
        async with httpx.AsyncClient(timeout=60) as client, contextlib.AsyncExitStack() as streams:
            stayer = await streams.enter_async_context(open_stream(client, server.url, auth("alice")))
            leavers = [await streams.enter_async_context(open_stream(client, server.url, auth(u))) for u in ("carol", "dave")]
            for stream in [stayer, *leavers]:
                assert (await stream.next(timeout=10)).event == "connected"
            light = asyncio.create_task(
                publish_forever(client, server, {"user_ids": ["alice", "carol", "dave"], "data": "light"}, 0.1)
            )
            with rollout.watching() as log:
                blob = "x" * 60_000
                for round_number in range(60):
                    if rollout.phase() == "rolled_back":
                        break
                    # Streams that are never read: their queue fills and the server cuts them (overflow).
                    slow = f"slow-{round_number}"
                    await streams.enter_async_context(open_stream(client, server.url, auth(slow)))
                    for _ in range(10):
                        r = await client.post(
                            f"{server.url}/v1/notifications",
                            headers=publish_headers,
                            json={"notifications": [{"user_id": slow, "data": blob}] * 20},
                        )
                        assert r.status_code == 202, r.text
                await until(lambda: rollout.phase() == "rolled_back", 30, "the rollback")
            light.cancel()
            await asyncio.gather(light, return_exceptions=True)
            for leaver in leavers:
                event = await leaver.next(timeout=10)
                while event.event == "notification":
                    event = await leaver.next(timeout=10)
                assert event.event == "disabled"
            r = await client.post(
                f"{server.url}/v1/notifications", headers=publish_headers, json={"user_id": "alice", "data": "still streaming"}
            )
            [event_id] = r.json()["ids"]
            event = await stayer.next(timeout=10)
            while event.data == '"light"':  # what was published before, still in order
                event = await stayer.next(timeout=10)
            assert (event.event, event.id) == ("notification", event_id)

    state = await FileFlagAdmin(flags_file).state()
    assert (state.enabled, state.percentage, state.allowlist) == (True, 0, ("alice",)), log.read_text()
    [rollback] = [t for t in rollout.json("history") if t["action"] == "rollback"]
    assert rollback["actor"] == "controller" and rollback["to_step"] == "internal"
    assert "slow_consumer_disconnects_per_minute" in rollback["reason"]
    # The rollback came at the failure_limit-th consecutive failed check, not later.
    checks = [c for c in rollout.checks() if c["time"] <= rollback["time"]]
    assert [c["verdict"] for c in checks[-2:]] == ["fail", "fail"]
    assert len(checks) < 3 or checks[-3]["verdict"] != "fail"
    assert rollback["time"] - checks[-2]["time"] <= 2 * 1.0, "within failure_limit × interval of the first failure"


async def test_the_service_runs_the_controller_itself_and_reports_it_in_admin_stats(tmp_path: Path) -> None:
    """FLAGSTREAM_ROLLOUT_CONTROLLER=true: the same controller, as a task of the serving lifecycle."""
    from rollout import RolloutOptions
    from rollout.factory import open_controller

    plan = tmp_path / "rollout.toml"
    plan.write_text(HEALTHY_PLAN.replace('bake_time = "1.5s"', 'bake_time = "0.5s"'))
    state = tmp_path / "state.json"
    env = {"FLAGSTREAM_ROLLOUT_PLAN": str(plan), "FLAGSTREAM_ROLLOUT_STATE": str(state), "FLAGSTREAM_ROLLOUT_CONTROLLER": "true"}
    async with flagstream(tmp_path, **env) as (server, flags_file):
        options = RolloutOptions(plan=str(plan), state=str(state), flags_file=str(flags_file))
        seen: dict[str, list[str]] = {}
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        async with httpx.AsyncClient(timeout=30) as client:
            traffic = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in ("alice", "bob")]
            traffic.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.02)))
            try:
                async with open_controller(options, needs_flags=True, needs_metrics=False) as manual:
                    await manual.start(actor="release-manager")
                deadline = asyncio.get_running_loop().time() + 60
                while True:
                    stats = (await client.get(f"{server.url}/v1/admin/stats", headers=admin)).json()
                    if stats["rollout"] and stats["rollout"].get("phase") == "completed":
                        break
                    assert asyncio.get_running_loop().time() < deadline, stats["rollout"]
                    await asyncio.sleep(0.2)
            finally:
                for task in traffic:
                    task.cancel()
                await asyncio.gather(*traffic, return_exceptions=True)
    flag = await FileFlagAdmin(flags_file).state()
    assert (flag.enabled, flag.percentage) == (True, 100)


@pytest.mark.prometheus
async def test_the_controller_reads_a_real_prometheus(tmp_path: Path) -> None:
    from tests.support.prometheus import prometheus_scraping

    plan = HEALTHY_PLAN.replace('interval = "0.5s"', 'interval = "3s"').replace('bake_time = "1.5s"', 'bake_time = "3s"')
    async with flagstream(tmp_path) as (server, flags_file):
        with prometheus_scraping([server.url.removeprefix("http://")], tmp_path) as prometheus_url:
            rollout = Rollout(tmp_path, server, plan, ["--flags-file", str(flags_file)], ["--prometheus-url", prometheus_url])
            seen: dict[str, list[str]] = {}
            users = ["alice", "bob", "carol", "dave"]
            async with httpx.AsyncClient(timeout=30) as client:
                tasks = [asyncio.create_task(keep_listening(client, server, user, seen)) for user in users]
                tasks.append(asyncio.create_task(publish_forever(client, server, {"broadcast": True, "data": 1}, 0.02)))
                try:
                    assert rollout.run("start").returncode == 0
                    with rollout.watching() as log:
                        await until(lambda: rollout.phase() == "completed", 120, "the rollout to complete")
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
    state = await FileFlagAdmin(flags_file).state()
    assert (state.enabled, state.percentage) == (True, 100), log.read_text()
    checks = rollout.checks()
    assert any(c["verdict"] == "pass" and c["sample"]["latency_p99"] is not None for c in checks)
