"""`POST /v1/admin/alerts`: an Alertmanager webhook receiver that rolls the rollout back.

Alertmanager decides which alerts come here (observability/alertmanager/flagstream.yml
routes the fast burn-rate alerts); every firing alert received rolls the flag back as the
plan says, if a rollout is moving (or in its guard window). Resolved alerts change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from quart import Blueprint, Quart, current_app, request
from quart.typing import ResponseReturnValue

from . import authenticate, error

blueprint = Blueprint("alerts", __name__)
ALERT_ROLLBACK = "flagstream_alert_rollback"
ACTOR = "alertmanager"

# (reason) → (rolled back, why); raises RolloutError when the flag or the state cannot be changed.
RollBack = Callable[[str], Awaitable[tuple[bool, str]]]


@dataclass(frozen=True)
class FiringAlert:
    name: str
    summary: str
    starts_at: str


class InvalidAlerts(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def install_alerts(app: Quart, roll_back: RollBack) -> None:
    app.extensions[ALERT_ROLLBACK] = roll_back
    app.register_blueprint(blueprint)


def firing_alerts(body: Any) -> list[FiringAlert]:
    """The firing alerts of an Alertmanager webhook body (version 4); InvalidAlerts names the bad field."""
    if not isinstance(body, dict):
        raise InvalidAlerts("body", "must be an Alertmanager webhook JSON object")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidAlerts("alerts", "must be a list of alerts")
    firing = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise InvalidAlerts(where, "must be an object")
        status, labels, annotations = alert.get("status"), alert.get("labels"), alert.get("annotations", {})
        if status not in ("firing", "resolved"):
            raise InvalidAlerts(f"{where}.status", "must be firing or resolved")
        if not isinstance(labels, dict) or not isinstance(labels.get("alertname"), str):
            raise InvalidAlerts(f"{where}.labels", "must be an object with an alertname")
        if not isinstance(annotations, dict):
            raise InvalidAlerts(f"{where}.annotations", "must be an object")
        if status == "firing":
            summary = annotations.get("summary")
            firing.append(
                FiringAlert(labels["alertname"][:200], str(summary)[:300] if summary else "", str(alert.get("startsAt", ""))[:40])
            )
    return firing


@blueprint.post("/v1/admin/alerts")
async def alertmanager_webhook() -> ResponseReturnValue:
    authenticate("admin")
    received = time.time()
    try:
        firing = firing_alerts(await request.get_json(force=True, silent=True))
    except InvalidAlerts as exc:
        return error(422, "invalid", [{"field": exc.field, "message": str(exc)}])
    if not firing:
        return {"rolled_back": False, "reason": "no firing alert"}
    from rollout import RolloutError

    reason = "alert firing: " + "; ".join(f"{a.name}" + (f" ({a.summary})" if a.summary else "") for a in firing)
    try:
        rolled_back, why = await current_app.extensions[ALERT_ROLLBACK](reason)
    except RolloutError as exc:
        # 503: Alertmanager retries the notification, the rollback is attempted again.
        return error(503, "rollback_failed", str(exc))
    return {
        "rolled_back": rolled_back,
        "reason": why,
        "alerts": [a.name for a in firing],
        "seconds": round(time.time() - received, 3),
    }
