"""Alert-driven rollback: the shipped Alertmanager routing sends the fast burn-rate alerts to
`POST /v1/admin/alerts`, and the service rolls its rollout back (a real Alertmanager firing at a
real `flagstream serve`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from flags import FileFlagAdmin
from tests.rollout.test_rollout_end_to_end import Rollout, flagstream, until
from tests.support.alertmanager import alertmanager_running, fire

pytestmark = pytest.mark.slow

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"
SHIPPED_ROUTING = OBSERVABILITY / "alertmanager" / "flagstream.yml"
SHIPPED_RULES = OBSERVABILITY / "prometheus" / "flagstream.rules.yml"
PLAN = """
flag = "sse-delivery"
interval = "1h"
bake_time = "1h"

[[steps]]
name = "internal"
allowlist = ["alice"]

[[steps]]
name = "half"
percentage = 50
"""


def shipped_alert(name: str) -> dict[str, str]:
    """The labels Prometheus gives the shipped rule ``name`` when it fires (plus the job's)."""
    rules = [rule for group in yaml.safe_load(SHIPPED_RULES.read_text())["groups"] for rule in group["rules"]]
    [rule] = [r for r in rules if r.get("alert") == name]
    return {"alertname": name, "job": "flagstream", **rule.get("labels", {})}


def receivers_by_alert(alertmanager: str) -> dict[str, set[str]]:
    """Which receivers Alertmanager routed each alert to (its alert groups API)."""
    routed: dict[str, set[str]] = {}
    for group in httpx.get(f"{alertmanager}/api/v2/alerts/groups", timeout=5).json():
        for alert in group["alerts"]:
            routed.setdefault(alert["labels"]["alertname"], set()).add(group["receiver"]["name"])
    return routed


def alertmanager_config(tmp_path: Path, service_url: str, admin_token: str) -> Path:
    """The shipped routing, pointed at this test's service and admin token."""
    config = yaml.safe_load(SHIPPED_ROUTING.read_text())
    token_file = tmp_path / "admin-token"
    token_file.write_text(admin_token)
    [receiver] = [r for r in config["receivers"] if r["name"] == "flagstream-rollback"]
    [webhook] = receiver["webhook_configs"]
    webhook["url"] = f"{service_url}/v1/admin/alerts"
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    path = tmp_path / "alertmanager.yml"
    path.write_text(json.dumps(config))
    return path


async def test_a_firing_burn_rate_alert_rolls_the_rollout_back_through_a_real_alertmanager(tmp_path: Path) -> None:
    plan, state = tmp_path / "rollout.toml", tmp_path / "state" / "rollout.json"
    plan.write_text(PLAN)
    async with flagstream(tmp_path, FLAGSTREAM_ROLLOUT_PLAN=str(plan), FLAGSTREAM_ROLLOUT_STATE=str(state)) as (
        server,
        flags_file,
    ):
        rollout = Rollout(tmp_path, server, PLAN, ["--flags-file", str(flags_file)])
        assert rollout.run("start", "--step", "half").returncode == 0
        config = alertmanager_config(tmp_path, server.url, server.admin_token)
        with alertmanager_running(config, tmp_path) as alertmanager:
            for not_routed in ("FlagstreamErrorBudgetBurnSlow", "FlagstreamFlagsStale"):
                await asyncio.to_thread(fire, alertmanager, shipped_alert(not_routed))
            fired = time.time()
            await asyncio.to_thread(
                fire, alertmanager, shipped_alert("FlagstreamErrorBudgetBurnFast"), {"summary": "errors burn the budget fast"}
            )
            await until(lambda: rollout.phase() == "rolled_back", 20, "the alert-driven rollback")
            receivers = await asyncio.to_thread(receivers_by_alert, alertmanager)
    assert receivers["FlagstreamErrorBudgetBurnFast"] == {"flagstream-rollback", "on-call"}
    assert receivers["FlagstreamErrorBudgetBurnSlow"] == receivers["FlagstreamFlagsStale"] == {"on-call"}
    [rollback] = [t for t in rollout.json("history") if t["action"] == "rollback"]
    assert rollback["actor"] == "alertmanager" and rollback["to_step"] == "internal"
    assert "FlagstreamErrorBudgetBurnFast (errors burn the budget fast)" in rollback["reason"]
    assert "Slow" not in rollback["reason"] and "FlagsStale" not in rollback["reason"], "only the fast burn-rate alerts act"
    flag = await FileFlagAdmin(flags_file).state()
    assert (flag.enabled, flag.percentage, flag.allowlist) == (True, 0, ("alice",))
    print(f"\nalert posted to Alertmanager → rollback recorded: {rollback['time'] - fired:.2f} s")


async def test_the_alert_receiver_wants_the_admin_token_and_names_bad_fields(tmp_path: Path) -> None:
    async with flagstream(tmp_path) as (server, _):
        url = f"{server.url}/v1/admin/alerts"
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.post(url, json={"alerts": []})).status_code == 401
            user = {"Authorization": f"Bearer {server.user_token('mallory')}"}
            assert (await client.post(url, json={"alerts": []}, headers=user)).status_code == 401
            bad = await client.post(url, json={"alerts": [{"status": "firing", "labels": {}}]}, headers=admin)
            assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "alerts[0].labels"
            not_json = await client.post(url, content=b"{", headers=admin)
            assert not_json.status_code == 422 and not_json.json()["detail"][0]["field"] == "body"
            resolved = await client.post(
                url,
                headers=admin,
                json={"alerts": [{"status": "resolved", "labels": {"alertname": "FlagstreamErrorBudgetBurnFast"}}]},
            )
            assert resolved.status_code == 200 and resolved.json()["rolled_back"] is False
            no_plan = await client.post(
                url,
                headers=admin,
                json={"alerts": [{"status": "firing", "labels": {"alertname": "FlagstreamErrorBudgetBurnFast"}}]},
            )
            assert no_plan.status_code == 503 and "no rollout plan" in no_plan.json()["detail"]


def test_the_shipped_alertmanager_routing_passes_amtool() -> None:
    from tests.support.requirements import require_binary

    amtool = require_binary("amtool", "prometheus-alertmanager")
    checked = subprocess.run([amtool, "check-config", str(SHIPPED_ROUTING)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
