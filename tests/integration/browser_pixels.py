"""Pictures checked against data: run tests/integration/browser/pixels.mjs in real Chromium and
read pixel columns of the screenshot, so a test can say "this stretch is empty" or "the area
reaches the baseline here" instead of "it renders".

Needs Debian `chromium`, Node.js and `playwright-core` from npm (installed on first use).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.requirements import missing, require_binary

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WHITE = (255, 255, 255)

Pixel = tuple[int, int, int]


@pytest.fixture(scope="module")
def node_with_playwright() -> str:
    node = require_binary("node", "nodejs")
    require_binary("chromium", "chromium")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            missing("`npm` not found: install the Debian package `npm` (for playwright-core)")
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            missing(f"`npm install playwright-core` failed: {result.stderr.strip().splitlines()[-1:]}")
    return node


@dataclass(frozen=True)
class Probe:
    """Pixel columns of one element, at fractions of its width (0 = left edge, 1 = right edge)."""

    box: dict[str, float]
    columns: list[list[Pixel]]

    def column(self, index: int) -> list[Pixel]:
        return self.columns[index]

    def around(self, index: int) -> list[list[Pixel]]:
        """The three columns sampled around point ``index`` of a spread probe."""
        return self.columns[3 * index : 3 * index + 3]


@dataclass(frozen=True)
class Picture:
    probes: list[Probe]
    texts: dict[str, str | None]
    ready_texts: dict[str, str | None] | None  # the same texts, when ``ready`` first held
    datasets: dict[str, dict[str, str] | None]
    page_errors: list[str]
    failed_requests: list[str]


def is_ink(pixel: Pixel, least: int = 15) -> bool:
    """Coloured (a line, an area, a marker): not white and not the grey of an axis or grid line."""
    return max(pixel) - min(pixel) > least


def near(pixel: Pixel, colour: Pixel, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def hex_colour(text: str) -> Pixel:
    text = text.lstrip("#")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


async def take_picture(
    node: str,
    *,
    url: str,
    wait_for: str,
    probes: Sequence[tuple[str, Sequence[float]]] = (),
    timed_probes: Sequence[tuple[str, Sequence[float]]] = (),
    spread_probes: Sequence[tuple[str, Sequence[float]]] = (),
    screenshot: str,
    feed: str | None = None,
    texts: Sequence[str] = (),
    viewport: dict[str, int] | None = None,
    datasets: Sequence[str] = (),
    ready: str | None = None,
    when_ready: Callable[[], Awaitable[None]] | None = None,
) -> Picture:
    """Open ``url``; once ``ready`` holds in the page, run ``when_ready``; once ``wait_for`` holds, look.

    ``probes`` take columns at fractions of the element's width; ``timed_probes`` at data
    times, placed by the scale the chart declares (``data-t0``…); ``spread_probes`` likewise,
    plus the column either side of each (read them with :meth:`Probe.around`).

    ``ready`` and ``wait_for`` are JavaScript expressions, polled from outside the page.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    job: dict[str, Any] = {
        "url": url,
        "waitFor": wait_for,
        "probes": [{"selector": selector, "columns": list(columns)} for selector, columns in probes]
        + [{"selector": selector, "times": list(times)} for selector, times in timed_probes]
        + [{"selector": selector, "times": list(times), "spread": 1} for selector, times in spread_probes],
        "screenshot": str(ARTIFACTS / screenshot),
        "texts": list(texts),
        "datasets": list(datasets),
    }
    if ready is not None:
        job["ready"] = ready
    if feed is not None:
        job["feed"] = feed
    if viewport is not None:
        job["viewport"] = viewport
    job_file = ARTIFACTS / (Path(screenshot).stem + ".job.json")
    job_file.write_text(json.dumps(job))
    process = await asyncio.create_subprocess_exec(
        node,
        "pixels.mjs",
        str(job_file),
        cwd=BROWSER_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if ready is not None:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line.strip() == b"READY", (line, (await process.stderr.read()).decode()[-3000:])  # type: ignore[union-attr]
        if when_ready is not None:
            await when_ready()
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-3000:]
    seen = json.loads(stdout.decode().strip().splitlines()[-1])
    return Picture(
        probes=[Probe(p["box"], [[tuple(px) for px in column] for column in p["columns"]]) for p in seen["probes"]],
        texts=seen["texts"],
        ready_texts=seen["readyTexts"],
        datasets=seen["datasets"],
        page_errors=seen["pageErrors"],
        failed_requests=seen["failedRequests"],
    )


def sse_body(*documents: dict[str, Any], event: str = "stats") -> str:
    """An SSE body carrying ``documents`` as ``stats`` events (retry far away: no refetch)."""
    blocks = ["retry: 3600000\n\n"]
    blocks += [f"event: {event}\ndata: {json.dumps(document)}\n\n" for document in documents]
    return "".join(blocks)
