"""The app factory: builds every part from the settings and wires them together."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quart import Quart, send_from_directory
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import MapAdapter
from werkzeug.security import safe_join

from flags.types import FlagFreshness, FlagGate, FlagGateConfig
from observability.metrics import PrometheusMetrics
from observability.stats import RollingStats, StatsRecordingMetrics
from observability.tracing import tracing_from_env
from observability.types import ASGIApp, Metrics, Receive, RouteOf, Send, Tracing

from .auth import TokenVerifier
from .broker.base import Broker
from .broker.memory import MemoryBroker
from .config import Settings
from .cors import CorsMiddleware, CorsPolicy, parse_origins
from .errors import error_body
from .hub import Hub, HubLimits
from .openapi import openapi_document
from .proxy_headers import TrustedProxyHeaders, parse_networks
from .publish_endpoint import PUBLISH_PATH, PublishEndpoint
from .rate_limit import MemoryRateLimiter, RateLimiter, RateLimits, bucket_rule
from .readiness import BrokerProbe
from .rollout_factory import alert_rollback, run_controller_while_serving, watch_rollout_while_serving
from .routes import Unauthorized, dev, health, notifications, stream_session
from .routes.admin import install_admin
from .routes.alerts import install_alerts
from .services import Services
from .stream import StreamEndpoint
from .worker import NotificationWorker

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"  # the pages: demo, dashboard


def client_js_dir() -> Path:
    """The browser client's sources, served under /static/ beside the pages: clients/js/src in a
    checkout, `sse_service/client_js` in an installed wheel (package data mapped from there)."""
    installed = Path(__file__).parent / "client_js"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[1] / "clients" / "js" / "src"


CLIENT_JS = client_js_dir()
STREAM_PATH = "/v1/stream"


def create_app(
    settings: Settings,
    *,
    flag_gate: FlagGate | None = None,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
) -> Quart:
    """Build the service. Nothing starts until the app is served (`before_serving`)."""
    stats = RollingStats()
    metrics = StatsRecordingMetrics(metrics or PrometheusMetrics(), stats)
    tracing = tracing or tracing_from_env()
    broker = build_broker(settings)
    gate = flag_gate or build_gate(settings, metrics)
    hub = Hub(HubLimits(settings.max_connections, settings.retry_ms, settings.queue_max_delay), metrics)
    services = Services(
        settings=settings,
        verifier=TokenVerifier(settings),
        hub=hub,
        broker=broker,
        flags=gate,
        metrics=metrics,
        tracing=tracing,
        worker=NotificationWorker(broker, metrics, tracing),
        rate_limits=build_rate_limits(settings, metrics),
        broker_probe=BrokerProbe(broker, settings.ready_timeout),
    )
    app = Quart(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch * settings.max_payload_bytes + 64 * 1024
    app.extensions["flagstream"] = services
    for blueprint in (health.blueprint, notifications.blueprint, stream_session.blueprint):
        app.register_blueprint(blueprint)
    if settings.dev_mode:
        app.register_blueprint(dev.blueprint)
    _register_pages(app)
    _register_openapi(
        app, openapi_document(dev_mode=settings.dev_mode, max_batch=settings.max_batch, max_page=notifications.MAX_PAGE)
    )
    _register_errors(app)
    app.before_serving(services.verifier.start)  # the JWKS, when configured, before the first request
    services.verifier.when_keys_removed(lambda removed: end_streams_signed_with(hub, removed))
    app.before_serving(services.start)
    app.after_serving(services.stop)
    app.after_serving(services.verifier.stop)
    rollout = watch_rollout_while_serving(app, settings)
    install_admin(app, stats, rollout_status=rollout.status, rollout_timeline=rollout.timeline)
    install_alerts(app, alert_rollback(settings))
    if settings.rollout_controller:
        run_controller_while_serving(app, settings)
    asgi: ASGIApp = HotPath(app.asgi_app, "POST", PUBLISH_PATH, PublishEndpoint(services, app.config["MAX_CONTENT_LENGTH"]))
    metrics.watch_service(
        connections_limit=settings.max_connections,
        flags_fresh=lambda: gate.health().freshness is FlagFreshness.FRESH,
        flag_outages=lambda: gate.health().outages,
    )
    asgi = metrics.instrument_http(asgi, route_of=route_template(app), tracing=tracing)
    # In front of the HTTP metrics: a stream reports its own duration (`stream_started`), so
    # no middleware frame sits in each of its writes and in each open stream's memory.
    asgi = HotPath(asgi, "GET", STREAM_PATH, StreamEndpoint(services))
    # Quart's asgi_app is a method; the chain in front of it is a plain ASGI callable.
    app.asgi_app = _deployment_middleware(asgi, settings)  # type: ignore[method-assign,assignment]
    app.after_serving(_async(tracing.shutdown))
    return app


def _deployment_middleware(asgi: ASGIApp, settings: Settings) -> ASGIApp:
    """Outermost: the real client and scheme behind trusted proxies, then CORS."""
    origins = parse_origins(settings.cors_origins)
    if origins or settings.stream_cookie:
        asgi = CorsMiddleware(asgi, CorsPolicy(origins, credentials=settings.stream_cookie))
    networks = parse_networks(settings.trusted_proxies)
    if networks:
        asgi = TrustedProxyHeaders(asgi, networks)
    return asgi


def route_template(app: Quart) -> RouteOf:
    """`route_of` for the HTTP metrics: the matched rule's template, None when nothing matches."""
    adapter: MapAdapter | None = None

    def route_of(method: str, path: str) -> str | None:
        nonlocal adapter
        if path == STREAM_PATH and method == "GET":
            return STREAM_PATH
        if path == PUBLISH_PATH and method == "POST":
            return PUBLISH_PATH
        if adapter is None:
            adapter = app.url_map.bind("")
        try:
            rule, _ = adapter.match(path, method, return_rule=True)
        except HTTPException:
            return None
        return rule.rule

    return route_of


def _async(action: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.to_thread(action)  # flushing spans may wait on the collector

    return run


def build_broker(settings: Settings) -> Broker:
    if settings.broker == "redis-cluster":
        from .broker.redis_cluster import RedisClusterBroker

        return RedisClusterBroker(
            settings.redis_url,
            settings.redis_prefix,
            settings.history_size,
            settings.history_ttl,
            settings.lease_ttl,
            wait_replicas=settings.redis_cluster_wait_replicas,
            wait_timeout_ms=settings.redis_cluster_wait_timeout_ms,
        )
    if settings.broker == "redis":
        from .broker.redis import RedisBroker

        return RedisBroker(
            settings.redis_url, settings.redis_prefix, settings.history_size, settings.history_ttl, settings.lease_ttl
        )
    return MemoryBroker(settings.history_size, settings.history_ttl)


def build_rate_limits(settings: Settings, metrics: Metrics) -> RateLimits:
    """Buckets shared in Redis on the Redis broker (every instance counts), else in-process."""
    limiter: RateLimiter
    if settings.broker == "redis":
        from .rate_limit_redis import RedisRateLimiter

        limiter = RedisRateLimiter(settings.redis_url, settings.redis_prefix)
    else:
        limiter = MemoryRateLimiter()
    return RateLimits(
        limiter,
        publish=bucket_rule(settings.publish_rate, settings.publish_burst),
        stream=bucket_rule(settings.stream_rate, settings.stream_burst),
        on_error=lambda: metrics.error("rate_limit"),
    )


def build_gate(settings: Settings, metrics: Metrics) -> FlagGate:
    from flags import build_flag_gate

    return build_flag_gate(
        FlagGateConfig(
            rollout_flag=settings.rollout_flag,
            flags_file=settings.flags_file or None,
            unleash_url=settings.unleash_url or None,
            unleash_api_token=settings.unleash_api_token or None,
            unleash_app_name=settings.unleash_app_name,
            refresh_interval=settings.flags_refresh_interval,
            failsafe=settings.flags_failsafe,
            cache_directory=os.path.join(settings.state_dir, "unleash"),  # last known state survives restarts
            on_evaluation=metrics.flag_evaluated,
        )
    )


def end_streams_signed_with(hub: Hub, removed_key_ids: frozenset[str]) -> None:
    """A key left the JWKS (retired, or compromised): its streams get `reauth` now, not at `exp`."""
    for connection in list(hub.connections()):
        if connection.key_id in removed_key_ids and connection.closing is None:
            hub.close(connection, "reauth")


class HotPath:
    """Sends one hot route (GET /v1/stream, POST /v1/notifications) to its plain ASGI
    endpoint, everything else on to `app` (in the end, Quart)."""

    def __init__(
        self, app: Callable[..., Awaitable[None]], method: str, path: str, endpoint: Callable[..., Awaitable[None]]
    ) -> None:
        self._app = app
        self._method = method
        self._path = path
        self._endpoint = endpoint

    def __call__(self, scope: Any, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the coroutine: no frame of ours stays in a stream's await chain.
        if scope["type"] == "http" and scope["path"] == self._path and scope["method"] == self._method:
            return self._endpoint(scope, receive, send)
        return self._app(scope, receive, send)


def _register_pages(app: Quart) -> None:
    @app.get("/static/<path:filename>", endpoint="static")
    async def static(filename: str) -> ResponseReturnValue:
        for folder in (STATIC, CLIENT_JS):
            path = safe_join(str(folder), filename)
            if path is not None and Path(path).is_file():
                return await send_from_directory(folder, filename)
        raise NotFound()

    @app.get("/")
    async def index() -> ResponseReturnValue:
        if not (STATIC / "index.html").is_file():
            return {"service": "flagstream", "stream": STREAM_PATH, "inbox": "/v1/notifications"}
        return await send_from_directory(STATIC, "index.html")

    @app.route(STREAM_PATH, methods=["POST", "PUT", "DELETE", "PATCH"])
    async def stream_wrong_method() -> ResponseReturnValue:
        return error_body("method_not_allowed", "use GET"), 405, {"Allow": "GET"}


def _register_openapi(app: Quart, document: dict[str, Any]) -> None:
    @app.get("/openapi.json")
    async def openapi() -> ResponseReturnValue:
        return document


def _register_errors(app: Quart) -> None:
    @app.errorhandler(Unauthorized)
    async def unauthorized(exc: Unauthorized) -> ResponseReturnValue:
        return error_body("unauthorized", exc.detail), 401, {"WWW-Authenticate": "Bearer"}

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_body(code, exc.description), exc.code or 500

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        app.extensions["flagstream"].metrics.error("http")
        return error_body("internal", "unexpected server error"), 500
