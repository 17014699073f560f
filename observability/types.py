"""Shared types of the observability package: what the service asks of tracing.

No OpenTelemetry type crosses this boundary. A trace context travels as a plain
W3C Trace Context carrier (``{"traceparent": "00-…", "tracestate": "…"}``) that the
service stores inside the notification envelope and hands back at delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

# A W3C Trace Context carrier: header name → value. ``None`` means "not traced".
TraceCarrier = dict[str, str]

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

    def request(
        self, method: str, route: str, parent: Mapping[str, str] | None = None
    ) -> AbstractContextManager[RequestSpan]:
        """One SERVER span around one (non-stream) HTTP request, continuing the caller's
        trace when ``parent`` (its ``traceparent``/``tracestate`` headers) names one."""
        ...

    def shutdown(self) -> None:
        """Flush pending spans and stop exporting (call once, after serving)."""
        ...
