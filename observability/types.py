"""Shared types of the observability package: what the service asks of metrics and tracing.

The service imports only this module (the app factory picks the implementations): no
prometheus_client or OpenTelemetry type crosses this boundary, and `Metrics` never shows
its registry.

A trace context travels as a plain
W3C Trace Context carrier (``{"traceparent": "00-…", "tracestate": "…"}``) that the
service stores inside the notification envelope and hands back at delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

# A W3C Trace Context carrier: header name → value. ``None`` means "not traced".
TraceCarrier = dict[str, str]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RouteOf = Callable[[str, str], "str | None"]

# Label values: low-cardinality on purpose, one tuple per label.
CLOSE_REASONS = ("client", "overflow", "disabled", "reauth", "shutdown", "evicted", "error")
REJECT_REASONS = ("unauthorized", "user_limit", "global_limit", "not_in_rollout", "draining", "rate_limited")
PUBLISH_REJECT_REASONS = ("rate_limited", "invalid", "too_large")
RECONNECT_KINDS = ("resumed", "repeat")  # Last-Event-ID sent; or the same user again within REPEAT_WINDOW
PUBLISH_KINDS = ("user", "broadcast")
FLAG_RESULTS = ("enabled", "disabled", "fallback")
ERROR_STAGES = ("publish", "stream", "lease", "subscribe", "inbox", "http", "background", "rate_limit")
CONNECTION_BUCKETS = ("1", "2", "3", "4", "5+")

# Destination templates: low-cardinality on purpose, never a real user id.
DESTINATION_USER = "user/{id}"
DESTINATION_BROADCAST = "broadcast"


class RequestSpan(Protocol):
    """The server span of one HTTP request, as the HTTP middleware sees it."""

    @property
    def trace_id(self) -> str | None:
        """Hex trace id when this request is sampled (used as a metric exemplar)."""
        ...

    def set_status_code(self, status: int) -> None: ...


class Tracing(Protocol):
    """Spans from publish to delivery; see :mod:`observability.tracing`."""

    def publish(
        self, count: int, destination: str, parent: Mapping[str, str] | None = None
    ) -> AbstractContextManager[TraceCarrier | None]:
        """One PRODUCER span around accepting ``count`` notifications.

        Yields the carrier to store in each envelope (``None`` when not traced).
        ``parent`` is the publisher's incoming request headers, if it sent a traceparent.
        """
        ...

    def delivered(
        self, carriers: Sequence[Mapping[str, str] | None], event_count: int, destination: str = DESTINATION_USER
    ) -> None:
        """One CONSUMER span for one batch written to one connection, linked to each publisher."""
        ...

    def request(self, method: str, route: str, parent: Mapping[str, str] | None = None) -> AbstractContextManager[RequestSpan]:
        """One SERVER span around one (non-stream) HTTP request, continuing the caller's
        trace when ``parent`` (its ``traceparent``/``tracestate`` headers) names one."""
        ...

    def shutdown(self) -> None:
        """Flush pending spans and stop exporting (call once, after serving)."""
        ...


@dataclass(frozen=True)
class HubSnapshot:
    """What the Hub holds right now, read at scrape time (never pushed per event)."""

    connections: int
    users: int
    users_by_connection_count: dict[str, int]


class Metrics(Protocol):
    """Delivery metrics as domain events; see :mod:`observability.metrics`."""

    def connection_opened(self) -> None: ...
    def connection_closed(self, reason: str) -> None: ...
    def connection_rejected(self, reason: str) -> None: ...
    def reconnected(self, kind: str) -> None: ...
    def events_published(self, kind: str, count: int) -> None: ...
    def publish_rejected(self, reason: str) -> None: ...
    def events_delivered(self, count: int, latencies: Sequence[float]) -> None: ...
    def events_delivered_runs(self, count: int, runs: Sequence[tuple[float, int]]) -> None:
        """Like `events_delivered`, latencies given as (latency, how many) runs: the events
        of one publish share their latency, so a write batch is a few runs, not one per event."""
        ...

    def events_replayed(self, count: int) -> None: ...
    def stream_started(self, status: int, seconds: float) -> None:
        """A `GET /v1/stream` answered `status` after `seconds`: a stream's HTTP duration is
        until its response starts (the stream endpoint reports it itself; it is not behind
        the HTTP metrics middleware, which would sit in every write and every stream's memory)."""
        ...

    def error(self, stage: str) -> None: ...
    def flag_evaluated(self, flag: str, result: str) -> None: ...
    def watch_hub(self, snapshot: Callable[[], HubSnapshot]) -> None: ...

    def watch_service(
        self, *, connections_limit: int, flags_fresh: Callable[[], bool], flag_outages: Callable[[], int] | None = None
    ) -> None:
        """Gauges read from the running service at scrape time (its limit, flag freshness)."""
        ...

    def instrument_http(self, app: ASGIApp, *, route_of: RouteOf, tracing: Tracing) -> ASGIApp:
        """``app`` with its request durations measured (or ``app`` itself when metrics are off)."""
        ...

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """``(body, content_type)`` of one scrape, in the format ``accept`` asks for."""
        ...
