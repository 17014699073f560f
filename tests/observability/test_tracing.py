"""Tracing: short spans, W3C carriers, links from delivery to publish, nothing when off."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind, StatusCode

from observability.tracing import NoopTracing, OtelTracing, otlp_configured
from observability.types import DESTINATION_BROADCAST, DESTINATION_USER

PUBLISHER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> OtelTracing:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracing(provider)


def test_publish_is_one_producer_span_and_yields_its_w3c_carrier(tracing, exporter):
    with tracing.publish(3, DESTINATION_USER) as carrier:
        assert exporter.get_finished_spans() == ()
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.PRODUCER
    assert span.name == "send user/{id}"
    assert span.attributes["messaging.system"] == "flagstream"
    assert span.attributes["messaging.operation.type"] == "send"
    assert span.attributes["messaging.destination.name"] == "user/{id}"
    assert span.attributes["messaging.batch.message_count"] == 3
    trace_id = format(span.context.trace_id, "032x")
    span_id = format(span.context.span_id, "016x")
    assert list(carrier) == ["traceparent"]
    version, carried_trace_id, carried_span_id, flags = carrier["traceparent"].split("-")
    assert (version, carried_trace_id, carried_span_id) == ("00", trace_id, span_id)
    assert int(flags, 16) & 0x01, "the carrier must say the publisher was sampled"


def test_publish_of_one_notification_carries_no_batch_count(tracing, exporter):
    with tracing.publish(1, DESTINATION_BROADCAST):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "send broadcast"
    assert "messaging.batch.message_count" not in span.attributes


def test_publish_continues_the_publishers_trace_from_its_request_headers(tracing, exporter):
    with tracing.publish(1, DESTINATION_USER, parent={"traceparent": PUBLISHER_TRACEPARENT}) as carrier:
        pass
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert carrier["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


def test_delivery_is_one_consumer_span_linked_to_every_distinct_publisher(tracing, exporter):
    with tracing.publish(1, DESTINATION_USER) as first:
        pass
    with tracing.publish(1, DESTINATION_USER) as second:
        pass
    tracing.delivered([first, second, first, None], 4, DESTINATION_USER)
    producer_a, producer_b, consumer = exporter.get_finished_spans()
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.name == "process user/{id}"
    assert consumer.parent is None
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["messaging.batch.message_count"] == 4
    linked = {(link.context.trace_id, link.context.span_id) for link in consumer.links}
    assert linked == {
        (producer_a.context.trace_id, producer_a.context.span_id),
        (producer_b.context.trace_id, producer_b.context.span_id),
    }
    assert consumer.end_time is not None


def test_delivery_of_untraced_events_records_nothing(tracing, exporter):
    tracing.delivered([None, {}, {"traceparent": "garbage"}], 3, DESTINATION_USER)
    tracing.delivered([{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}], 1, "broadcast")
    assert exporter.get_finished_spans() == ()


def test_unsampled_publish_yields_no_carrier(exporter):
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = OtelTracing(provider)
    with tracing.publish(1, DESTINATION_USER) as carrier:
        pass
    assert carrier is None
    assert exporter.get_finished_spans() == ()


def test_request_span_is_a_server_span_with_route_and_status(tracing, exporter):
    with tracing.request("POST", "/v1/notifications") as request_span:
        with tracing.publish(1, DESTINATION_USER):
            pass
        request_span.set_status_code(503)
    producer, server = exporter.get_finished_spans()
    assert server.kind is SpanKind.SERVER
    assert server.name == "POST /v1/notifications"
    assert server.attributes["http.route"] == "/v1/notifications"
    assert server.attributes["http.response.status_code"] == 503
    assert server.status.status_code is StatusCode.ERROR
    assert request_span.trace_id == format(server.context.trace_id, "032x")
    assert producer.parent.span_id == server.context.span_id


def test_noop_tracing_has_the_same_api_and_records_nothing():
    tracing = NoopTracing()
    with tracing.publish(5, DESTINATION_USER, parent={"traceparent": PUBLISHER_TRACEPARENT}) as carrier:
        assert carrier is None
    tracing.delivered([carrier, {"traceparent": PUBLISHER_TRACEPARENT}], 2, DESTINATION_USER)
    with tracing.request("GET", "/healthz") as request_span:
        request_span.set_status_code(200)
        assert request_span.trace_id is None
    tracing.shutdown()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
    ],
)
def test_spans_leave_the_process_only_when_an_otlp_endpoint_is_set(environ, expected):
    assert otlp_configured(environ) is expected
