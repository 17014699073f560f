"""The live dashboard in a real headless Chromium: numbers move while traffic flows.

Needs Debian `chromium`, Node.js (`nodejs`) and `playwright-core` from npm, installed on
first use into tests/integration/browser/node_modules. The screenshot is kept at
artifacts/dashboard.png for a person to look at.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.integration.browser_pixels import ARTIFACTS, BROWSER_DIR, node_with_playwright
from tests.integration.live_traffic import traffic
from tests.support.inprocess import ADMIN, server_settings, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["node_with_playwright"]


async def test_dashboard_numbers_move_while_traffic_flows(node_with_playwright: str, gate) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    async with serving(server_settings(broker="memory"), flag_gate=gate) as served:
        async with traffic(served):
            process = await asyncio.create_subprocess_exec(
                node_with_playwright,
                "dashboard.mjs",
                served.url,
                ADMIN,
                str(screenshot),
                cwd=BROWSER_DIR,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    seen = json.loads(stdout.decode().strip().splitlines()[-1])

    assert seen["landedOn"] == f"{served.url}/dashboard", "the token must leave the address bar"
    assert seen["pageErrors"] == [] and seen["failedRequests"] == []
    assert seen["before"]["document_cookie"] == "", "the session cookie must be HttpOnly"
    during, after = seen["during"], seen["after"]
    assert int(during["connections"]) == 3 and int(during["users"]) == 2
    assert float(during["delivered_per_second"].replace(",", "")) > 0
    assert after["delivered_per_second"] != during["delivered_per_second"]
    assert after["latency_p99"] != "–" and after["rss_mib"] != "–" and after["cpu_percent"] != "–"
    assert after["flag_state"] == "fresh"
    assert after["top_user"] == "alice"
    assert after["chart_paths"] >= 9
    assert screenshot.stat().st_size > 20_000
