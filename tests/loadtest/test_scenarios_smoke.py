"""A short run of every scenario against a real `flagstream serve`: all must verify clean."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def target() -> Iterator[RunningServer]:
    # One stream per user, so a storm of reconnects meets the per-user limit (429 + Retry-After).
    running = start_server({"FLAGSTREAM_MAX_CONNECTIONS_PER_USER": "1", "FLAGSTREAM_RETRY_MS": "500"})
    yield running
    running.stop()


def run_loadtest(server: RunningServer, scenario: str, *extra: str, progress: bool = False) -> tuple[dict, str]:
    args = [
        sys.executable,
        "-m",
        "sse_service.cli",
        "loadtest",
        scenario,
        "--url",
        server.url,
        "--jwt-secret",
        server.jwt_secret,
        "--publish-token",
        server.publish_token,
        "-c",
        "30",
        "-w",
        "2",
        "-d",
        "2",
        "--json",
        *extra,
    ]
    if not progress:
        args.append("--no-progress")
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout), result.stderr


def assert_clean(report: dict) -> None:
    assert report["ok"] is True
    assert report["connected"] == report["connections"] == 30
    v = report["verification"]
    assert (v["lost"], v["duplicated"], v["out_of_order"], v["resets"]) == (0, 0, 0, 0)
    assert v["delivered"] == v["expected"] == report["delivered"]
    assert set(report["rejections"]) <= {"429", "503"}
    assert report["errors"] == {}


def test_idle_holds_streams_and_reads_the_servers_memory(target: RunningServer) -> None:
    report, stderr = run_loadtest(target, "idle", progress=True)
    assert_clean(report)
    assert report["published"] == 0
    assert report["server_rss_before_mib"] > 0 and report["memory_per_stream_kib"] is not None
    assert report["connect_rate"] > 0 and report["handshake_ms"]["p50"] > 0
    assert "connect" in stderr  # the progress bar


def test_notify_delivers_every_accepted_notification_with_latencies(target: RunningServer) -> None:
    report, _ = run_loadtest(target, "notify", "--rate", "300")
    assert_clean(report)
    assert report["published"] > 0 and report["delivered"] == report["published"]
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "p99.9", "max"}
    assert report["server_cpu_percent"] is not None


def test_broadcast_reaches_every_stream(target: RunningServer) -> None:
    report, _ = run_loadtest(
        target, "broadcast", "--count", "20", "--broadcast-rate", "50", "--server-pid", str(target.process.pid)
    )
    assert_clean(report)
    assert report["server_cpu_us_per_delivery"] is not None and report["server_rss_after_mib"] > 0
    assert report["published"] == 20 and report["delivered"] == 20 * 30


def test_storm_reconnects_everyone_without_loss(target: RunningServer) -> None:
    report, _ = run_loadtest(target, "storm", "--rate", "200", "-d", "3")
    assert_clean(report)
    assert any(note.startswith("storm 1: 30 of 30 streams back") for note in report["notes"])


def test_mixed_publishes_both_kinds(target: RunningServer) -> None:
    report, _ = run_loadtest(target, "mixed", "--rate", "200", "--broadcast-rate", "10")
    assert_clean(report)
    assert report["delivered"] > report["published"]  # broadcasts fan out to every stream


def test_streams_can_use_tokens_from_a_file(target: RunningServer, tmp_path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(target.user_token(f"file-user-{i}") + "\n" for i in range(5)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sse_service.cli",
            "loadtest",
            "notify",
            "--url",
            target.url,
            "--token-file",
            str(tokens),
            "--publish-token",
            target.publish_token,
            "-c",
            "5",
            "-w",
            "1",
            "-d",
            "1",
            "--rate",
            "50",
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["connected"] == 5 and report["verification"]["lost"] == 0 and report["delivered"] > 0


def test_collapse_delivers_each_users_newest_update_once_and_in_order(target: RunningServer) -> None:
    report, _ = run_loadtest(target, "collapse", "--rate", "600")
    assert report["ok"] is True
    v = report["verification"]
    assert (v["lost"], v["duplicated"], v["out_of_order"], v["resets"]) == (0, 0, 0, 0)
    assert 0 < v["delivered"] <= v["expected"] == report["published"]
    assert any(note.startswith("collapse:") for note in report["notes"])
