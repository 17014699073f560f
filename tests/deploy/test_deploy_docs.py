"""docs/deploy.md shows exactly the files the tests run, and every alert the rules ship."""

from __future__ import annotations

from pathlib import Path

import yaml

from .proxies import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()


def test_the_proxy_configurations_in_the_docs_are_the_tested_files() -> None:
    for kind, path in TEMPLATES.items():
        fence = "```nginx\n" if kind == "nginx" else "```haproxy\n"
        assert fence + path.read_text() + "```\n" in DOC, f"docs/deploy.md: paste {path.relative_to(ROOT)} unchanged"


def test_every_alert_is_in_the_table_with_its_severity() -> None:
    rules = yaml.safe_load((ROOT / "observability" / "prometheus" / "flagstream.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert f"| `{rule['alert']}` | {rule['labels']['severity']} |" in DOC, rule["alert"]


def test_the_readme_links_the_deploy_page() -> None:
    assert "(docs/deploy.md)" in (ROOT / "README.md").read_text()
