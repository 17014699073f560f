"""Short spans from publish to delivery, configured from the standard ``OTEL_*`` variables.

One PRODUCER span per publish request, one CONSUMER span per batch written to one
connection (linked to every publisher context in the batch, started and ended at once),
one SERVER span per non-stream HTTP request. Never a span as long as a stream.

Spans are exported over OTLP http/protobuf only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; otherwise :func:`tracing_from_env` returns
:class:`NoopTracing`, which costs one attribute lookup per call.

Example (tests inject their own provider)::

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = OtelTracing(provider)
    with tracing.publish(2, DESTINATION_USER) as carrier:
        envelope = {"trace": carrier, ...}
    tracing.delivered([carrier], 2, DESTINATION_USER)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio, Sampler
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from observability.types import DESTINATION_USER, RequestSpan, TraceCarrier, Tracing

__all__ = ["NoopTracing", "OtelTracing", "tracing_from_env", "otlp_configured"]

MESSAGING_SYSTEM = "flagstream"
INSTRUMENTATION_NAME = "flagstream"
DEFAULT_TRACE_RATIO = 0.01  # of the traces that start here (no sampled `traceparent` from the caller)
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def otlp_configured(environ: Mapping[str, str]) -> bool:
    """True when spans should leave the process: an OTLP endpoint is set and tracing is not switched off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def tracing_from_env(*, service_version: str | None = None) -> Tracing:
    """The service's tracing: OTLP http/protobuf when configured, :class:`NoopTracing` otherwise.

    Reads ``os.environ`` (as the SDK does): sampler (``OTEL_TRACES_SAMPLER``), resource
    (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``), exporter (``OTEL_EXPORTER_OTLP_*``)
    and batching (``OTEL_BSP_*``) settings are all the SDK's own.
    """
    if not otlp_configured(os.environ):
        return NoopTracing()
    # Imported here: the exporter pulls in requests/protobuf, which the off path never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=_service_resource(service_version), sampler=default_sampler(os.environ), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return OtelTracing(provider)


def default_sampler(environ: Mapping[str, str]) -> Sampler | None:
    """None (the SDK reads `OTEL_TRACES_SAMPLER`/`_ARG`) when the sampler is configured; else
    flagstream's default: follow the caller's decision, and sample `DEFAULT_TRACE_RATIO` of the
    traces that start here. The SDK's own default (every trace) costs a third of the delivery
    throughput at full load (benchmarks/RESULTS.md, broadcast-1k-traced)."""
    if environ.get("OTEL_TRACES_SAMPLER", "").strip():
        return None
    return ParentBasedTraceIdRatio(DEFAULT_TRACE_RATIO)


def _service_resource(service_version: str | None) -> Resource:
    resource = Resource.create({})
    defaults: dict[str, str] = {}
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        defaults[SERVICE_NAME] = "flagstream"
    if service_version and SERVICE_VERSION not in resource.attributes:
        defaults[SERVICE_VERSION] = service_version
    return resource.merge(Resource(defaults)) if defaults else resource


class _NoopRequestSpan:
    trace_id: str | None = None

    def set_status_code(self, status: int) -> None:
        pass


class NoopTracing:
    """Tracing switched off: the same API, nothing recorded, no allocation per call."""

    _publish = nullcontext(None)
    _request = nullcontext(_NoopRequestSpan())

    def publish(
        self, count: int, destination: str, parent: Mapping[str, str] | None = None
    ) -> AbstractContextManager[TraceCarrier | None]:
        return self._publish

    def delivered(
        self, carriers: Sequence[Mapping[str, str] | None], event_count: int, destination: str = DESTINATION_USER
    ) -> None:
        pass

    def request(self, method: str, route: str, parent: Mapping[str, str] | None = None) -> AbstractContextManager[RequestSpan]:
        return self._request

    def shutdown(self) -> None:
        pass


class _OtelRequestSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span
        context = span.get_span_context()
        self.trace_id = format(context.trace_id, "032x") if context.trace_flags.sampled else None

    def set_status_code(self, status: int) -> None:
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))


class OtelTracing:
    """:class:`~observability.types.Tracing` on an OpenTelemetry SDK provider (injected)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION_NAME)
        self._propagator = TraceContextTextMapPropagator()
        # A broadcast hands the same carrier to every connection: parse each traceparent once.
        self._span_context_of = lru_cache(maxsize=4096)(self._parse_carrier)

    @contextmanager
    def publish(self, count: int, destination: str, parent: Mapping[str, str] | None = None) -> Iterator[TraceCarrier | None]:
        context = self._propagator.extract(parent) if parent else None
        attributes = _messaging_attributes("send", destination, count)
        with self._tracer.start_as_current_span(
            f"send {destination}", context=context, kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            if not span.get_span_context().trace_flags.sampled:
                yield None
                return
            carrier: TraceCarrier = {}
            self._propagator.inject(carrier, context=trace.set_span_in_context(span))
            yield carrier

    def delivered(
        self, carriers: Sequence[Mapping[str, str] | None], event_count: int, destination: str = DESTINATION_USER
    ) -> None:
        links: dict[tuple[int, int], SpanContext] = {}
        for carrier in carriers:
            if carrier:
                span_context = self._span_context_of(carrier.get("traceparent"), carrier.get("tracestate"))
                if span_context is not None:
                    links[span_context.trace_id, span_context.span_id] = span_context
        # Follow the publishers' sampling decision: no sampled publisher, no consumer span.
        if not links:
            return
        span = self._tracer.start_span(
            f"process {destination}",
            context=trace.set_span_in_context(trace.INVALID_SPAN),
            kind=SpanKind.CONSUMER,
            attributes=_messaging_attributes("process", destination, event_count),
            links=[Link(span_context) for span_context in links.values()],
        )
        span.end()

    @contextmanager
    def request(self, method: str, route: str, parent: Mapping[str, str] | None = None) -> Iterator[RequestSpan]:
        context = self._propagator.extract(parent) if parent else None
        attributes = {"http.request.method": method, "http.route": route}
        with self._tracer.start_as_current_span(
            f"{method} {route}", context=context, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            yield _OtelRequestSpan(span)

    def shutdown(self) -> None:
        self._provider.shutdown()

    def _parse_carrier(self, traceparent: str | None, tracestate: str | None) -> SpanContext | None:
        if not traceparent:
            return None
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        span_context = trace.get_current_span(self._propagator.extract(carrier)).get_span_context()
        if not span_context.is_valid or not span_context.trace_flags.sampled:
            return None
        return span_context


def _messaging_attributes(operation: str, destination: str, count: int) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": destination,
        "messaging.destination.template": destination,
    }
    # Semantic conventions: the batch size is set only on spans that cover a batch.
    if count != 1:
        attributes["messaging.batch.message_count"] = count
    return attributes
