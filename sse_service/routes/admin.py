"""Admin views of one instance: `/v1/admin/stats` (JSON) and the live `/dashboard`.

The dashboard takes the admin token once (`?access_token=`), answers with an HttpOnly,
SameSite=Strict session cookie (ending with the token, see `dashboard_session`) and a
redirect that drops the token from the address bar; its page then follows
`/dashboard/stream`, an SSE feed of the same stats every second, until the session ends.
`POST /dashboard/logout` ends the session.
Numbers are this instance's own (behind a load balancer, each page shows one instance).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from quart import Blueprint, Quart, Response, current_app, redirect, request
from quart.typing import ResponseReturnValue

from observability.stats import RollingStats

from ..auth import AuthError
from ..services import Services
from ..sse import ServerSentEvent
from ..stream_encoding import rfc3339
from . import Unauthorized, authenticate, error, services
from .dashboard_session import DashboardSessions

blueprint = Blueprint("admin", __name__)

STATIC = Path(__file__).resolve().parent.parent / "static"
PUSH_INTERVAL = 1.0
TOP_USERS = 10
DASHBOARD_HEADERS = {
    # Everything is served by this instance: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
RolloutStatus = Callable[[], Mapping[str, Any] | None]
RolloutTimeline = Callable[[], tuple[int, Mapping[str, Any] | None]]


class AdminViews:
    """What the admin routes read, kept on the app (built by :func:`install_admin`)."""

    def __init__(
        self,
        stats: RollingStats,
        session_key: bytes,
        rollout_status: RolloutStatus | None,
        rollout_timeline: RolloutTimeline | None = None,
        trusts_key: Callable[[str], bool] = lambda key_id: False,
    ) -> None:
        self.stats = stats
        self.sessions = DashboardSessions(session_key, trusts_key)
        self.rollout_status = rollout_status
        self.rollout_timeline = rollout_timeline
        self.sampler: asyncio.Task[None] | None = None


def install_admin(
    app: Quart,
    stats: RollingStats,
    *,
    rollout_status: RolloutStatus | None = None,
    rollout_timeline: RolloutTimeline | None = None,
) -> None:
    """Register the admin routes and the once-a-second stats sampler on ``app``.

    ``rollout_status`` returns ``{"phase": ..., "percentage": ...}`` and ``rollout_timeline``
    ``(version, document)``, both from a cache a background task keeps (never I/O on the
    request path); without them the page shows the share of users the flag lets in.
    """
    services_ = app.extensions["flagstream"]
    views = AdminViews(stats, _session_key(services_), rollout_status, rollout_timeline, trusts_key=services_.verifier.trusts_key)
    app.extensions["flagstream.admin"] = views
    app.register_blueprint(blueprint)

    async def start_sampler() -> None:
        views.sampler = asyncio.create_task(_sample_every_second(stats), name="stats-sampler")

    async def stop_sampler() -> None:
        if views.sampler is not None:
            views.sampler.cancel()
            await asyncio.gather(views.sampler, return_exceptions=True)

    app.before_serving(start_sampler)
    app.after_serving(stop_sampler)


def _session_key(s: Services) -> bytes:
    """Derived from the admin credentials, so that every instance accepts every instance's cookie."""
    settings = s.settings
    material = "\0".join((settings.admin_token, settings.jwt_secret, settings.jwt_public_key, settings.jwks_url))
    if not material.strip("\0"):
        return os.urandom(32)
    return hashlib.sha256(b"flagstream-dashboard-session\0" + material.encode()).digest()


async def _sample_every_second(stats: RollingStats) -> None:
    while True:
        stats.sample()
        await asyncio.sleep(PUSH_INTERVAL - time.time() % PUSH_INTERVAL)


def views() -> AdminViews:
    admin: AdminViews = current_app.extensions["flagstream.admin"]
    return admin


# -- routes ------------------------------------------------------------------------------
@blueprint.get("/v1/admin/stats")
async def admin_stats() -> ResponseReturnValue:
    authenticate("admin")
    return stats_document(services(), views())


@blueprint.get("/dashboard")
async def dashboard() -> ResponseReturnValue:
    token = request.args.get("access_token")
    if token is not None:
        try:
            identity = services().verifier.admin(token)
        except AuthError as exc:
            return error(401, "unauthorized", str(exc), {"WWW-Authenticate": "Bearer"})
        response = redirect("/dashboard", 303)
        views().sessions.open(response, identity, request)
        return response
    if _admin_session_ends() is None:
        return error(401, "unauthorized", "open /dashboard?access_token=<admin token> first", {"WWW-Authenticate": "Bearer"})
    page = (STATIC / "dashboard.html").read_bytes()
    return Response(page, content_type="text/html; charset=utf-8", headers=DASHBOARD_HEADERS)


@blueprint.post("/dashboard/logout")
async def dashboard_logout() -> ResponseReturnValue:
    response = redirect("/dashboard", 303)
    views().sessions.close(response, request)
    return response


@blueprint.get("/dashboard/stream")
async def dashboard_stream() -> ResponseReturnValue:
    ends_at = _admin_session_ends()
    if ends_at is None:
        return error(401, "unauthorized", "no dashboard session", {"WWW-Authenticate": "Bearer"})
    s, v = services(), views()
    response = Response(
        _pushes(s, v, ends_at),
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # Quart would otherwise end the feed after 60 s
    return response


def _admin_session_ends() -> float | None:
    """When the caller's admin session (cookie, else bearer token) ends; None without one."""
    if request.cookies.get(views().sessions.cookie_name):
        session = views().sessions.current(request)
        return session.expires_at if session is not None else None
    try:
        identity = authenticate("admin")
    except Unauthorized:
        return None
    return identity.expires_at or float("inf")


async def _pushes(s: Services, v: AdminViews, ends_at: float) -> AsyncIterator[bytes]:
    document = stats_document(s, v)
    document["series"] = v.stats.series()
    sent_timeline = _add_timeline(document, v, None)
    yield ServerSentEvent(data=json.dumps(document), event="stats", retry=2000).encode()
    while not s.hub.draining and time.time() < ends_at:
        await asyncio.sleep(PUSH_INTERVAL - time.time() % PUSH_INTERVAL + 0.05)
        document = stats_document(s, v)
        document["series"] = v.stats.series(3)
        sent_timeline = _add_timeline(document, v, sent_timeline)
        yield ServerSentEvent(data=json.dumps(document), event="stats").encode()


def _add_timeline(document: dict[str, Any], v: AdminViews, sent: int | None) -> int | None:
    """The rollout timeline rides along only when it changed since this page last got it."""
    if v.rollout_timeline is None:
        return sent
    version, timeline = v.rollout_timeline()
    if version != sent:
        document["rollout_timeline"] = timeline
    return version


# -- the document ------------------------------------------------------------------------
def stats_document(s: Services, v: AdminViews) -> dict[str, Any]:
    summary = v.stats.summary()
    snapshot = s.hub.snapshot()
    health = s.flags.health()
    evaluations = summary.evaluations
    decided = evaluations.get("enabled", 0) + evaluations.get("disabled", 0)
    rollout: dict[str, Any] = {
        "flag": s.settings.rollout_flag,
        "enabled_share": round(evaluations.get("enabled", 0) / decided, 4) if decided else None,
        "phase": None,
        "percentage": None,
    }
    if v.rollout_status is not None:
        rollout.update(v.rollout_status() or {})
    now = time.time()
    return {
        "instance": {
            "started_at": rfc3339(s.started_at),
            "uptime_seconds": round(now - s.started_at),
            "broker": s.broker.name,
            "draining": s.hub.draining,
        },
        "server_time": rfc3339(now),
        "window_seconds": summary.window_seconds,
        "rate_seconds": summary.rate_seconds,
        "connections": snapshot.connections,
        "connections_limit": s.settings.max_connections,
        "users": snapshot.users,
        "users_by_connection_count": snapshot.users_by_connection_count,
        "top_users": s.hub.top_users(TOP_USERS),
        "delivered_per_second": round(summary.delivered_per_second, 2),
        "published_per_second": round(summary.published_per_second, 2),
        "delivered": summary.delivered,
        "published": summary.published,
        "replayed": summary.replayed,
        "latency_ms": summary.latency_ms,
        "errors": {
            "total": summary.error_total,
            "per_second": round(summary.errors_per_second, 3),
            "by_stage": summary.errors,
        },
        "connections_opened": summary.opened,
        "connections_closed": summary.closed,
        "connections_rejected": summary.rejected,
        "slow_consumer_disconnects": summary.closed.get("overflow", 0),
        "process": v.stats.process(),
        "flags": {
            "flag": s.settings.rollout_flag,
            "state": health.freshness.value,
            "source": health.source,
            "last_refresh": rfc3339(health.last_refresh) if health.last_refresh else None,
            "error": health.error,
            "outages": health.outages,
            "evaluations": evaluations,
        },
        "rollout": rollout,
    }
