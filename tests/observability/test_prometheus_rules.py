"""The shipped Prometheus rules load, and their promtool unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.requirements import require_binary

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "observability" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", "prometheus")
    return subprocess.run([binary, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120)


def test_rule_files_are_valid():
    rule_files = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("*.rules.yml"))
    assert rule_files, "no observability/prometheus/*.rules.yml"
    result = promtool("check", "rules", *rule_files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass():
    tests = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no promtool tests in observability/prometheus/tests/"
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_runbook_section_in_the_sre_guide():
    import yaml

    rules = yaml.safe_load((PROMETHEUS_DIR / "flagstream.rules.yml").read_text())
    guide = (PROMETHEUS_DIR.parents[1] / "docs" / "sre.md").read_text()
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert alerts
    for rule in alerts:
        anchor = rule["annotations"]["runbook"].partition("#")[2]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert']}" in guide, f"docs/sre.md has no section for {rule['alert']}"
