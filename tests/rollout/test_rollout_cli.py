"""`flagstream rollout …` as a release manager types it: tables, --json, one-line errors, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flags import FileFlagAdmin
from rollout.controller import RolloutController
from rollout.plan import load_plan
from rollout.store import FileStateStore
from rollout.types import RolloutError
from sse_service.cli import main as flagstream
from tests.rollout.conftest import PLAN
from tests.rollout.rollout_support import FakeClock, ScriptedSource, healthy


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("USER", "rm-alice")
    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    return {"plan": plan, "state": tmp_path / "state.json", "flags": tmp_path / "flags.json"}


def rollout(files: dict[str, Path], *args: str, flags: bool = True) -> list[str]:
    argv = ["rollout", *args, "--plan", str(files["plan"]), "--state", str(files["state"])]
    return argv + (["--flags-file", str(files["flags"])] if flags else [])


def flag_state(files: dict[str, Path]):  # type: ignore[no-untyped-def]
    return asyncio.run(FileFlagAdmin(files["flags"]).state())


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = flagstream(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_status_of_a_rollout_not_started(files, capsys):
    code, out, err = run(capsys, rollout(files, "status", flags=False))
    assert code == 0 and err == ""
    assert "phase       pending" in out and "flagstream rollout start" in out
    code, out, _ = run(capsys, rollout(files, "status", "--json", flags=False))
    view = json.loads(out)
    assert (view["phase"], view["step"], view["percentage"], view["steps"]) == ("pending", None, 0, 4)


def test_start_changes_the_flags_file_and_records_who(files, capsys):
    code, out, err = run(capsys, rollout(files, "start"))
    assert code == 0, err
    assert "progressing" in out and "internal (1/4)" in out and "0% + 2 allowlisted" in out
    state = flag_state(files)
    assert (state.enabled, state.percentage, state.allowlist) == (True, 0, ("alice", "bob"))
    code, out, _ = run(capsys, rollout(files, "history", flags=False))
    assert code == 0 and "rm-alice" in out and "start" in out and "pending → progressing" in out
    code, out, _ = run(capsys, rollout(files, "history", "--json", flags=False))
    [line] = json.loads(out)
    assert line["actor"] == "rm-alice"


def test_pause_resume_and_rollback_by_hand(files, capsys):
    assert run(capsys, rollout(files, "start"))[0] == 0
    code, out, _ = run(capsys, rollout(files, "pause", "--reason", "ticket 42", flags=False))
    assert code == 0 and "paused" in out and "ticket 42" in out
    assert run(capsys, rollout(files, "resume", flags=False))[0] == 0
    code, out, _ = run(capsys, rollout(files, "rollback", "--reason", "support calls"))
    assert code == 0 and "rolled_back" in out
    history = json.loads(run(capsys, rollout(files, "history", "--json", flags=False))[1])
    assert [(t["action"], t["reason"]) for t in history][1:] == [
        ("pause", "ticket 42"),
        ("resume", "resumed"),
        ("rollback", "support calls"),
    ]


def test_advance_is_refused_while_a_gate_fails_and_forced_with_force(files, capsys):
    assert run(capsys, rollout(files, "start"))[0] == 0
    clock = FakeClock(start=10**10)
    controller = RolloutController(
        load_plan(files["plan"]),
        FileStateStore(files["state"]),
        FileFlagAdmin(files["flags"]),
        ScriptedSource(healthy(errors=500)),
        clock=clock,
    )
    asyncio.run(controller.tick())  # one failing check recorded
    code, out, err = run(capsys, rollout(files, "advance"))
    assert code == 1 and out == ""
    assert err == "flagstream rollout advance: refusing to advance: error_ratio failing; use --force to advance anyway\n"
    code, out, err = run(capsys, rollout(files, "status", flags=False))
    assert "error_ratio" in out and "fail" in out and "roll back if the next 2 check(s) fail too" in out
    code, out, err = run(capsys, rollout(files, "advance", "--force"))
    assert code == 0, err
    assert flag_state(files).percentage == 5


@pytest.mark.parametrize(
    ("args", "flags", "message"),
    [
        (["start"], False, "this command changes the flag: give --flags-file or --unleash-url"),
        (["approve"], True, "cannot approve: the rollout is pending"),
        (["resume"], False, "cannot resume: the rollout is pending"),
        (["start", "--step", "nope"], True, "no step named 'nope' in the plan (steps: internal, five, half, all)"),
        (["watch"], True, "the controller needs metrics: give --metrics-url"),
        (["watch", "--metrics-url", "http://127.0.0.1:1/metrics"], True, "cannot scrape http://127.0.0.1:1/metrics"),
        (["history", "--limit", "-1"], False, "--limit: must be 0 or more"),
        (["start", "--unleash-url", "http://127.0.0.1:1"], False, "flag admin: an Unleash admin API token is required"),
        (
            ["start", "--unleash-url", "http://127.0.0.1:1", "--unleash-admin-token", "t"],
            False,
            "flag admin could not set the allowlist: Unleash at http://127.0.0.1:1/api unreachable",
        ),
    ],
)
def test_every_error_is_one_line_and_a_nonzero_exit(files, capsys, args, flags, message):
    code, out, err = run(capsys, rollout(files, *args, flags=flags))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_bad_plan_names_the_key(files, capsys):
    files["plan"].write_text('flag = "sse-delivery"\n[[steps]]\npercentage = 101\n')
    code, _, err = run(capsys, rollout(files, "status", flags=False))
    assert code == 1
    assert err == f"flagstream rollout status: {files['plan']}: steps[0].percentage: must be an integer 0..100, got 101\n"


def test_a_state_file_of_another_flag_is_refused(files, capsys):
    assert run(capsys, rollout(files, "start"))[0] == 0
    files["plan"].write_text(PLAN.replace('flag = "sse-delivery"', 'flag = "other"'))
    code, _, err = run(capsys, rollout(files, "status", flags=False))
    assert code == 1 and "holds the rollout of 'sse-delivery', but the plan is for 'other'" in err


def test_report_summarises_each_step_and_suggests_with_evidence(files, capsys):
    plan = load_plan(files["plan"])
    clock = FakeClock()
    source = ScriptedSource(healthy())
    controller = RolloutController(plan, FileStateStore(files["state"]), FileFlagAdmin(files["flags"]), source, clock=clock)

    async def drive() -> None:
        await controller.start(actor="alice")
        for _ in range(10):
            clock.advance(60)
            await controller.tick()  # healthy at "internal", then on to "five"
        source.always(healthy(overflow_disconnects=3, latency_p99=0.012, rejected_user_limit=4, connection_attempts=40))
        for _ in range(2):
            clock.advance(60)
            await controller.tick()

    asyncio.run(drive())
    code, out, err = run(capsys, rollout(files, "report", flags=False))
    assert code == 0, err
    assert "internal" in out and "five" in out
    assert (
        "FLAGSTREAM_QUEUE_SIZE: raise it" in out
        and '6 slow-consumer disconnects (sse_connections_closed_total{reason="overflow"}), 3.00/min at step five' in out
    )
    assert (
        "FLAGSTREAM_MAX_CONNECTIONS_PER_USER" in out
        and "8 of 80 stream requests that reached the limits refused for user_limit" in out
    )
    code, out, _ = run(capsys, rollout(files, "report", "--json", flags=False))
    report = json.loads(out)
    assert [s["step"] for s in report["steps"]] == ["internal", "five"]
    assert {s["setting"] for s in report["suggestions"]} >= {"QUEUE_SIZE", "MAX_CONNECTIONS_PER_USER"}


def test_report_before_any_check_says_so(files, capsys):
    code, out, _ = run(capsys, rollout(files, "report", flags=False))
    assert code == 0 and "no recorded checks yet" in out


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        flagstream(["rollout", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("status", "start", "advance", "pause", "resume", "rollback", "approve", "history", "watch", "report"):
        assert command in out


def test_the_public_surface_is_pinned():
    import rollout

    assert sorted(rollout.__all__) == [
        "ControllerState",
        "Phase",
        "Plan",
        "PlanError",
        "RolloutController",
        "RolloutError",
        "RolloutObserver",
        "RolloutOptions",
        "RolloutSnapshot",
        "add_commands",
        "load_plan",
        "open_controller",
        "parse_plan",
        "status_document",
        "timeline_document",
    ]


def test_the_observer_shows_phase_and_percentage_as_commands_change_them(files, capsys):
    from rollout import RolloutObserver, status_document

    def read(plan=files["plan"], state=files["state"]):
        async def go():
            observer = RolloutObserver(str(plan), str(state), "sse-delivery")
            try:
                return status_document(await observer.read(0.0), 0.0)
            finally:
                await observer.close()

        return asyncio.run(go())

    assert read(plan=files["plan"].with_name("none.toml")) is None
    assert read()["phase"] == "pending"
    assert run(capsys, rollout(files, "start"))[0] == 0
    assert run(capsys, rollout(files, "advance"))[0] == 0
    status = read()
    assert (status["phase"], status["step"], status["percentage"]) == ("progressing", "five", 5)
    files["state"].write_text("{torn")
    with pytest.raises(RolloutError, match="rollout state is unreadable"):
        read()
    with pytest.raises(RolloutError, match="^redis redis://:\\*\\*\\*@127.0.0.1:1/0: cannot read"):
        read(state="redis://:pw@127.0.0.1:1/0")


def test_watch_once_measures_one_interval_and_shows_the_gates(files, capsys):
    from prometheus_client import CollectorRegistry, generate_latest

    from observability.metrics import PrometheusMetrics
    from tests.rollout.http_fixtures import text_server

    files["plan"].write_text(PLAN.replace('interval = "1m"', 'interval = "0.2s"'))
    service = PrometheusMetrics(CollectorRegistry(), process_metrics=False)

    def scrape() -> str:
        service.events_delivered(500, [0.003] * 500)  # traffic between any two scrapes
        return generate_latest(service.registry).decode()

    assert run(capsys, rollout(files, "start"))[0] == 0
    with text_server(scrape) as url:
        code, out, err = run(capsys, rollout(files, "watch", "--once", "--metrics-url", url))
    assert code == 0, err
    assert "delivery_p99_seconds" in out and "0.004" in out and "pass" in out
    [check] = asyncio.run(FileStateStore(files["state"]).checks())
    assert check.sample.delivered == 500 and check.verdict.value == "pass"
