"""`flagstream rollout report --html FILE`: one self-contained page; the text and --json stay."""

from __future__ import annotations

import asyncio
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rollout.store import FileStateStore
from sse_service.cli import main as flagstream
from tests.rollout.rollout_story import STORY_PLAN, Story, play_story


class Page(HTMLParser):
    """Every tag with its attributes, and which figure each suggestion sits beside."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []  # per .row: its figure and suggestion ids
        self._depth = 0
        self._row_depth: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "div" and "row" in (attributes.get("class") or "").split():
            self.rows.append([])
            self._row_depth = self._depth
        if self._row_depth is not None and self.rows:
            if tag == "figure":
                self.rows[-1].append(f"figure:{attributes.get('data-figure')}")
            if tag == "aside":
                self.rows[-1].append(str(attributes.get("id")))
        self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        self._depth -= 1
        if tag == "div" and self._row_depth == self._depth:
            self._row_depth = None


@pytest.fixture
def story_files(tmp_path: Path) -> tuple[dict[str, Path], Story]:
    plan = tmp_path / "rollout.toml"
    plan.write_text(STORY_PLAN)
    state = tmp_path / "state.json"
    story = asyncio.run(play_story(FileStateStore(state)))
    return {"plan": plan, "state": state, "html": tmp_path / "report.html"}, story


def report(files: dict[str, Path], *extra: str) -> list[str]:
    return ["rollout", "report", "--plan", str(files["plan"]), "--state", str(files["state"]), *extra]


def test_html_report_is_one_self_contained_page(story_files, capsys) -> None:
    files, _ = story_files
    assert flagstream(report(files, "--html", str(files["html"]))) == 0
    out, err = capsys.readouterr()
    assert "suggestions:" in out and "half" in out  # the text report still prints
    assert f"wrote {files['html']}: 3 steps, 28 checks" in err
    page = Page()
    page.feed(files["html"].read_text())
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object")]
    for _, attributes in page.tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith("#"), f"external reference {name}={value}"
    charts = {a.get("data-chart") for t, a in page.tags if t == "svg"}
    assert {
        "overview",
        "deliveries",
        "latency",
        "overflow",
        "streams",
        "gate-error_ratio",
        "gate-delivery_p99_seconds",
        "gate-rejection_ratio",
        "gate-slow_consumer_disconnects_per_minute",
    } <= charts
    sections = [a.get("id") for t, a in page.tags if t == "section" and a.get("id")]
    assert sections == ["step-internal", "step-five", "step-half"]


def test_each_suggestion_sits_next_to_the_chart_that_argues_for_it(story_files, capsys) -> None:
    files, _ = story_files
    assert flagstream(report(files, "--html", str(files["html"]), "--json")) == 0
    suggestions = json.loads(capsys.readouterr().out)["suggestions"]  # --json stays, alongside --html
    settings = {s["setting"] for s in suggestions}
    assert "QUEUE_SIZE" in settings
    page = Page()
    page.feed(files["html"].read_text())
    beside = {entry: row[0] for row in page.rows for entry in row[1:]}
    assert beside["suggestion-QUEUE_SIZE"] == "figure:overflow"
    for setting in settings:
        assert f"suggestion-{setting}" in beside


def test_html_report_to_an_unwritable_path_is_one_line(story_files, capsys) -> None:
    files, _ = story_files
    code = flagstream(report(files, "--html", str(files["html"].parent / "missing" / "r.html")))
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "--html: cannot write" in err
