"""Liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

import hmac

from quart import Blueprint, Response, request
from quart.typing import ResponseReturnValue

from . import authenticate, error, services

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> ResponseReturnValue:
    return {"status": "alive"}


@blueprint.get("/readyz")
async def readyz() -> ResponseReturnValue:
    """Status only for anonymous callers (load balancers, probes); each dependency's state,
    addresses and this instance's host:pid only with the admin credential."""
    detailed = request.headers.get("Authorization") is not None
    if detailed:
        authenticate("admin")
    ready, body = await services().readiness()
    return (body if detailed else {"status": body["status"]}), 200 if ready else 503


@blueprint.get("/metrics")
async def metrics() -> ResponseReturnValue:
    s = services()
    token = s.settings.metrics_token
    if token:
        given = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error(401, "unauthorized", "metrics need the METRICS_TOKEN bearer token", {"WWW-Authenticate": "Bearer"})
    # Prometheus asks for OpenMetrics, the format that carries trace-id exemplars.
    body, content_type = s.metrics.exposition(request.headers.get("Accept"))
    return Response(body, content_type=content_type)
