"""A notification's trace: producer span at publish, consumer span at delivery, linked —
through the memory broker and through Redis (the context travels inside the envelope)."""

from __future__ import annotations

import asyncio

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from observability.tracing import OtelTracing
from tests.support.inprocess import open_stream, server_settings, serving


async def test_delivery_span_links_to_the_publish_span(broker_settings, gate) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with serving(server_settings(**broker_settings), flag_gate=gate, tracing=OtelTracing(provider)) as served:
        async with httpx.AsyncClient(timeout=10) as client, open_stream(client, served.url, served.auth("traced")) as stream:
            await stream.next()
            [event_id] = await served.publish({"user_id": "traced", "data": {"n": 1}}, client)
            delivered = await stream.next()
            assert delivered.id == event_id
            assert "traceparent" not in delivered.data  # trace context stays inside the service
            for _ in range(250):  # the consumer span ends right after the write
                if any(s.kind is SpanKind.CONSUMER for s in exporter.get_finished_spans()):
                    break
                await asyncio.sleep(0.02)
    spans = exporter.get_finished_spans()
    [producer] = [s for s in spans if s.kind is SpanKind.PRODUCER]
    [consumer] = [s for s in spans if s.kind is SpanKind.CONSUMER]
    assert [(link.context.trace_id, link.context.span_id) for link in consumer.links] == [
        (producer.context.trace_id, producer.context.span_id)
    ]
    assert producer.attributes["messaging.operation.type"] == "send"
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.end_time - consumer.start_time < 10**9  # a short span, not one per stream
