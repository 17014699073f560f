"""Request durations of every HTTP route, as an ASGI middleware.

``http_request_duration_seconds{route,method,status}``: ``route`` is the route template
(``/v1/notifications``, never a raw path), supplied by the ``route_of`` callable the app
factory passes in; a path no route matches is ``other``, an unusual method is ``other``.

Streaming routes (``/v1/stream`` by default) are measured only until the response
*starts*: that is the connect latency a client sees (token, rollout and limit checks,
registration). The time a stream then stays open is not a request duration; it is
covered by ``sse_connections`` and ``sse_connections_closed_total``.

Every other request runs inside a short SERVER span (see :mod:`observability.tracing`)
that continues the caller's trace when it sent a ``traceparent`` header,
and its observation carries that span's trace id as an exemplar, which Prometheus sees
when it scrapes the OpenMetrics format (:func:`observability.openmetrics.render_metrics`).

Example::

    app.asgi_app = HttpMetricsMiddleware(
        app.asgi_app, registry=registry, route_of=route_template, tracing=tracing
    )
"""

from __future__ import annotations

from collections.abc import Collection
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from observability.tracing import NoopTracing
from observability.types import ASGIApp, Message, Receive, RouteOf, Scope, Send, Tracing

__all__ = ["HttpMetricsMiddleware", "REQUEST_DURATION_BUCKETS", "UNKNOWN"]


UNKNOWN = "other"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetricsMiddleware:
    """ASGI middleware timing each HTTP request; lifespan and websocket scopes pass through.

    ``route_of(method, path)`` returns the matched route template or ``None``.
    ``first_byte_routes`` are the templates timed only until their response starts.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry,
        route_of: RouteOf,
        tracing: Tracing | None = None,
        first_byte_routes: Collection[str] = ("/v1/stream",),
    ) -> None:
        self._app = app
        self._route_of = route_of
        self._tracing = tracing if tracing is not None else NoopTracing()
        self._first_byte_routes = frozenset(first_byte_routes)
        self._histogram = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route template, method and status (streams: until the response starts).",
            ["route", "method", "status"],
            buckets=REQUEST_DURATION_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in KNOWN_METHODS else UNKNOWN
        route = self._route_of(scope["method"], scope["path"]) or UNKNOWN
        if route in self._first_byte_routes:
            await self._time_until_response_starts(route, method, scope, receive, send)
        else:
            await self._time_whole_request(route, method, scope, receive, send)

    async def _time_whole_request(self, route: str, method: str, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # what the server answers when the app fails before starting a response
        started = perf_counter()

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self._tracing.request(method, route, _trace_headers(scope)) as request_span:
            try:
                await self._app(scope, receive, send_recording_status)
            finally:
                request_span.set_status_code(status)
                self.observe(route, method, status, perf_counter() - started, request_span.trace_id)

    async def _time_until_response_starts(self, route: str, method: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        observed = False

        async def send_observing_start(message: Message) -> None:
            nonlocal observed
            if message["type"] == "http.response.start" and not observed:
                observed = True
                self.observe(route, method, message["status"], perf_counter() - started, None)
            await send(message)

        try:
            await self._app(scope, receive, send_observing_start)
        finally:
            if not observed:
                self.observe(route, method, 500, perf_counter() - started, None)

    def observe(self, route: str, method: str, status: int, seconds: float, trace_id: str | None) -> None:
        key = (route, method, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._histogram.labels(*key)
        if trace_id is None:
            child.observe(seconds)
        else:
            child.observe(seconds, exemplar={"trace_id": trace_id})


def _trace_headers(scope: Scope) -> dict[str, str] | None:
    """The caller's W3C trace context headers, if it sent any."""
    found = None
    for name, value in scope.get("headers", ()):
        if name == b"traceparent" or name == b"tracestate":
            found = found or {}
            found[name.decode()] = value.decode("latin-1")
    return found
