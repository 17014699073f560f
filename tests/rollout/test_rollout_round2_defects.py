"""Regression tests for issue 11's defects (rejection ratio, reconnect evidence, release-manager friction)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from observability.metrics import PrometheusMetrics
from rollout.controller import RolloutController
from rollout.gates import read_gates
from rollout.plan import parse_plan
from rollout.report import suggest, summarise
from rollout.sources import ScrapeSource
from rollout.types import CheckResult, Phase
from sse_service.cli import main as flagstream
from tests.rollout.conftest import PLAN
from tests.rollout.http_fixtures import text_server
from tests.rollout.rollout_support import FakeClock, ScriptedSource, healthy

MINUTE = 60.0


async def test_rejection_ratio_leaves_not_in_rollout_out_of_its_denominator():
    """At the allowlist step nearly every request is a 204: refusing every internal user must still read 100 %."""
    metrics, clock = PrometheusMetrics(CollectorRegistry(), process_metrics=False), FakeClock()
    with text_server(lambda: generate_latest(metrics.registry).decode()) as url:
        source = ScrapeSource([url], clock)
        await source.start()
        clock.advance(60)
        metrics.events_delivered(500, [0.001] * 500)
        for _ in range(10):
            metrics.connection_rejected("user_limit")
        for _ in range(990):
            metrics.connection_rejected("not_in_rollout")
        sample = await source.sample(60, {})
        await source.close()
    [reading] = [r for r in read_gates(parse_plan(PLAN), sample) if r.gate == "rejection_ratio"]
    assert reading.value == 1.0 and reading.verdict.value == "fail"


def test_every_204_is_not_a_reconnect_so_a_partial_rollout_suggests_no_ping_change():
    """Hundreds of 204s per stream per hour are users outside the rollout, not idle proxies cutting streams."""
    plan = parse_plan(PLAN)
    sample = healthy(connection_attempts=5000, connections=100, users=100)  # ~4900 of them 204s, no resumes
    checks = [CheckResult(time=1_800_000_000 + 60 * n, step=1, readings=(), sample=sample) for n in range(10)]
    advice = {s.setting: s for s in suggest(summarise(plan, checks))}
    assert "PING_INTERVAL" not in advice or "lower" not in advice["PING_INTERVAL"].change


def test_a_ping_suggestion_cites_the_reconnect_counter_and_the_checked_window():
    plan = parse_plan(PLAN)
    sample = healthy(connection_attempts=5000, reconnects=600, connections=100, users=100)
    checks = [CheckResult(time=1_800_000_000 + 60 * n, step=1, readings=(), sample=sample) for n in range(10)]
    [ping] = [s for s in suggest(summarise(plan, checks)) if s.setting == "PING_INTERVAL"]
    assert "lower" in ping.change
    assert "sse_reconnects_total" in ping.evidence and "2027-01-15" in ping.evidence  # a metric and a time range to check


# -- release-manager friction (defect 6) ---------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("USER", "rm-alice")
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    return {"plan": plan, "state": tmp_path / "state.json", "flags": tmp_path / "flags.json"}


def rollout(files: dict[str, Path], *args: str) -> list[str]:
    return ["rollout", *args, "--plan", str(files["plan"]), "--state", str(files["state"]), "--flags-file", str(files["flags"])]


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = flagstream(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_history_json_is_one_document_and_an_empty_list_when_empty(files, capsys):
    code, out, _ = run(capsys, rollout(files, "history", "--json"))
    assert code == 0 and json.loads(out) == []
    assert run(capsys, rollout(files, "start"))[0] == 0
    code, out, _ = run(capsys, rollout(files, "history", "--json"))
    history = json.loads(out)
    assert isinstance(history, list) and history[0]["actor"] == "rm-alice"


def test_resume_and_approve_record_the_reason_given(files, capsys):
    assert run(capsys, rollout(files, "start"))[0] == 0
    assert run(capsys, rollout(files, "pause", "--reason", "look closer"))[0] == 0
    code, _, err = run(capsys, rollout(files, "resume", "--reason", "dashboards look fine"))
    assert code == 0, err
    history = json.loads(run(capsys, rollout(files, "history", "--json"))[1])
    assert history[-1]["action"] == "resume" and history[-1]["reason"] == "dashboards look fine"


async def test_a_hold_reaches_the_audit_log_once_not_on_every_check(plan, store, admin, clock):
    source = ScriptedSource(healthy(delivered=3))  # below min_traffic: holding
    controller = RolloutController(plan, store, admin, source, clock=clock)
    await controller.start(actor="alice")
    for _ in range(15):
        clock.advance(MINUTE)
        state = await controller.tick()
    assert state.phase is Phase.PROGRESSING and state.step == 0
    holds = [t for t in await store.transitions() if t.action == "hold"]
    assert len(holds) == 1, holds
    assert "too little traffic" in holds[0].reason and holds[0].actor == "controller"


async def test_a_pending_controller_polls_within_a_second(plan, store, admin, clock):
    controller = RolloutController(plan, store, admin, ScriptedSource(healthy()), clock=clock)
    assert controller.poll_delay(await controller.state()) <= 1.0


def test_the_transition_log_line_names_step_and_percentage(plan, store, admin, clock, caplog):
    controller = RolloutController(plan, store, admin, ScriptedSource(healthy()), clock=clock)
    caplog.set_level("INFO", logger="flagstream.rollout")
    asyncio.run(controller.start(actor="alice"))
    for _ in range(10):
        clock.advance(MINUTE)
        asyncio.run(controller.tick())
    lines = [r.getMessage() for r in caplog.records if "controller" in r.getMessage()]
    assert any("internal 0% → five 5%" in line for line in lines), lines


def test_the_watch_log_has_no_http_client_lines_and_names_the_step_and_percentage(tmp_path, capsys, caplog):
    plan = tmp_path / "fast.toml"
    plan.write_text(
        PLAN.replace('bake_time = "10m"', 'bake_time = "0.1s"')
        .replace('interval = "1m"', 'interval = "0.2s"')
        .replace("min_traffic = 100", "min_traffic = 0")
        + '[[gates]]\nmeasure = "error_ratio"\n'
    )
    base = ["--plan", str(plan), "--state", str(tmp_path / "state.json"), "--flags-file", str(tmp_path / "flags.json")]
    assert flagstream(["rollout", "start", *base]) == 0
    caplog.set_level("INFO")
    with text_server(lambda: "sse_events_delivered_total 0\n") as url:
        assert flagstream(["rollout", "watch", "--once", *base, "--metrics-url", url]) == 0
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert not [m for m in messages if m[0].startswith(("httpx", "httpcore"))], messages
    assert any("internal 0% → five 5%" in text for _, text in messages), messages


async def test_a_service_that_does_not_count_reconnects_gives_no_reconnect_evidence():
    clock, delivered = FakeClock(), [0]
    with text_server(lambda: f"# TYPE sse_events_delivered_total counter\nsse_events_delivered_total {delivered[0]}\n") as url:
        source = ScrapeSource([url], clock)
        await source.start()
        clock.advance(60)
        delivered[0] = 500
        sample = await source.sample(60, {})
        await source.close()
    assert sample.delivered == 500 and sample.reconnects is None
