"""The dashboard's sparkline geometry (sse_service/static/sparkline.js), run in Node: no browser needed.

The pixel-level check is tests/integration/test_dashboard_sparklines.py; this pins the shapes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.requirements import require_binary

SPARKLINE = Path(__file__).resolve().parents[2] / "sse_service" / "static" / "sparkline.js"


def run_js(body: str) -> object:
    node = require_binary("node", "nodejs")
    script = (
        f"import * as s from {json.dumps(SPARKLINE.as_uri())};\nconsole.log(JSON.stringify(await (async () => {{ {body} }})()));"
    )
    result = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_null_or_a_missing_second_splits_the_series() -> None:
    runs = run_js("return s.segments([[1, 5], [2, 6], [3, null], [4, 2], [5, 3], [9, 4], [10, 4]]);")
    assert runs == [[[1, 5], [2, 6]], [[4, 2], [5, 3]], [[9, 4], [10, 4]]]


def test_each_area_closes_down_to_the_baseline_under_its_own_run() -> None:
    paths = run_js("""
        const runs = s.segments([[0, 10], [1, 20], [2, null], [3, 20], [4, 10]]);
        const sc = s.scale(4, 4, 20);
        return { area: s.areaPath(runs, sc), line: s.linePath(runs, sc) };
    """)
    assert paths["area"] == "M0.0 58L0.0 31.0L75.0 4.0L75.0 58ZM225.0 58L225.0 4.0L300.0 31.0L300.0 58Z"
    assert paths["line"] == "M0.0 31.0L75.0 4.0M225.0 4.0L300.0 31.0"


def test_a_lone_second_is_a_short_mark_not_nothing() -> None:
    line = run_js("return s.linePath(s.segments([[2, 1]]), s.scale(4, 4, 1));")
    assert line == "M112.5 4.0h75.0"
