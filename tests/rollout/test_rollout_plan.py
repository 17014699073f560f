"""rollout.toml: defaults, inheritance between steps, and one clear error per mistake, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.gates import MEASURES
from rollout.plan import load_plan, parse_plan
from rollout.types import PlanError, RollbackMode

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_example_plan_is_valid():
    plan = load_plan(REPO / "rollout.example.toml")
    assert plan.flag == "sse-delivery"
    assert [s.name for s in plan.steps] == ["internal", "canary", "early", "half", "everyone"]
    assert plan.steps[3].requires_approval and not plan.steps[2].requires_approval
    assert plan.steps[0].bake_time == 3600 and plan.steps[1].bake_time == 1800 and plan.steps[1].interval == 60


def test_defaults_fill_what_is_left_out():
    plan = parse_plan('flag = "f"\n[[steps]]\npercentage = 100\n')
    assert plan.failure_limit == 3 and plan.rollback is RollbackMode.PREVIOUS and plan.min_traffic == 100
    assert plan.steps[0].name == "step-1" and plan.steps[0].bake_time == 600 and plan.steps[0].interval == 60
    assert [g.measure for g in plan.gates] == list(MEASURES)
    assert {g.name: g.max for g in plan.gates} == {name: m.default_max for name, m in MEASURES.items()}


def test_a_step_keeps_the_audience_it_does_not_restate():
    plan = parse_plan(
        'flag = "f"\n[[steps]]\nallowlist = ["a", "b", "a"]\n[[steps]]\npercentage = 10\n'
        '[[steps]]\nallowlist = []\n[[steps]]\nallowlist = ["c"]\npercentage = 100\n'
    )
    assert [(s.allowlist, s.percentage) for s in plan.steps] == [(("a", "b"), 0), (("a", "b"), 10), ((), 10), (("c",), 100)]


def test_durations_accept_seconds_and_units():
    plan = parse_plan('flag = "f"\nbake_time = "1h"\ninterval = 90\n[[steps]]\npercentage = 1\ninterval = "500ms"\n')
    assert plan.steps[0].bake_time == 3600 and plan.steps[0].interval == 0.5


def test_a_gate_with_a_measure_and_no_threshold_uses_the_default():
    plan = parse_plan(
        'flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nmeasure = "error_ratio"\n[[gates]]\nname = "q"\nquery = "up"\nmin = 1\n'
    )
    assert [(g.name, g.max, g.min, g.query) for g in plan.gates] == [("error_ratio", 0.01, None, None), ("q", None, 1.0, "up")]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[[steps]]\npercentage = 1", "flag: required"),
        ('flag = "f"', "steps: required: at least one"),
        ('flag = "f"\nsteps = []', "steps: required: at least one"),
        ('flag = "f"\nfailur_limit = 2\n[[steps]]\npercentage = 1', "failur_limit: unknown key"),
        ('flag = "f"\n[[steps]]\npercent = 1', "steps[0].percent: unknown key"),
        ('flag = "f"\n[[steps]]\npercentage = 150', "steps[0].percentage: must be an integer 0..100, got 150"),
        ('flag = "f"\n[[steps]]\npercentage = 1\n[[steps]]\npercentage = "5%"', "steps[1].percentage: must be an integer"),
        ('flag = "f"\n[[steps]]\nallowlist = []', "steps[0]: reaches nobody"),
        ('flag = "f"\n[[steps]]\nallowlist = "alice"', "steps[0].allowlist: must be a list of user id strings"),
        ('flag = "f"\n[[steps]]\npercentage = 1\nbake_time = "ten minutes"', "steps[0].bake_time: must be a duration"),
        ('flag = "f"\ninterval = 0\n[[steps]]\npercentage = 1', "interval: must be more than 0 seconds"),
        ('flag = "f"\n[[steps]]\nname = "a"\npercentage = 1\n[[steps]]\nname = "a"\npercentage = 2', "steps[1].name: duplicate"),
        ('flag = "f"\n[[steps]]\npercentage = 1\napproval = "yes"', "steps[0].approval: must be true or false"),
        ('flag = "f"\nrollback = "undo"\n[[steps]]\npercentage = 1', 'rollback: must be "previous" or "off"'),
        ('flag = "f"\nfailure_limit = 0\n[[steps]]\npercentage = 1', "failure_limit: must be an integer >= 1"),
        ('flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nmeasure = "p99"', "gates[0].measure: unknown measure 'p99'"),
        ('flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nmax = 1', "gates[0]: give exactly one of measure or query"),
        ('flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nname = "q"\nquery = "up"', "gates[0]: give a threshold"),
        ('flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nquery = "up"\nmax = 1', "gates[0].name: required for a query gate"),
        (
            'flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nmeasure = "error_ratio"\nmax = 1\nmin = 0',
            "gates[0]: give one threshold",
        ),
        (
            'flag = "f"\n[[steps]]\npercentage = 1\n[[gates]]\nmeasure = "error_ratio"\nmax = "1%"',
            "gates[0].max: must be a number",
        ),
        ('flag = "f"\ngates = []\n[[steps]]\npercentage = 1', "gates: must be one or more"),
        ('flag = "f"\n[[steps]\n', "not valid TOML"),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(toml, message):
    with pytest.raises(PlanError) as caught:
        parse_plan(toml, "plan.toml")
    text = str(caught.value)
    assert text.startswith("plan.toml: ") and message in text
    assert "\n" not in text.strip()


def test_a_missing_plan_file_says_so(tmp_path):
    with pytest.raises(PlanError, match=r"nope\.toml: plan file not found"):
        load_plan(tmp_path / "nope.toml")
