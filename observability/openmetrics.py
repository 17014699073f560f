"""The ``/metrics`` body, in the format the scraper asked for.

Prometheus asks for OpenMetrics first (``Accept: application/openmetrics-text…``);
only that format carries exemplars (the trace ids on request durations). Anything
else gets the classic text format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["render_metrics"]


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """``(body, content_type)`` for one scrape, negotiated on the request's ``Accept`` header."""
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
