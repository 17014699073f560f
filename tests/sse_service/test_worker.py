"""NotificationWorker.publish on its real parts (memory broker, Prometheus metrics, OTel SDK), no socket."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from observability.metrics import PrometheusMetrics
from observability.tracing import NoopTracing, OtelTracing
from sse_service.broker.memory import MemoryBroker
from sse_service.types import IdempotencyConflict, Notification
from sse_service.worker import NotificationWorker


def published(registry: CollectorRegistry, kind: str) -> float:
    return registry.get_sample_value("sse_events_published_total", {"kind": kind}) or 0.0


def to(*users: str, key: str | None = None, data: str = "{}") -> Notification:
    return Notification(user_ids=users, event="n", data_json=data, idempotency_key=key)


def test_publish_returns_one_id_per_recipient_in_order_and_counts_by_kind() -> None:
    registry = CollectorRegistry()
    broker = MemoryBroker(100, 3600)
    worker = NotificationWorker(broker, PrometheusMetrics(registry, process_metrics=False), NoopTracing())

    async def scenario() -> tuple[list[str], list[str]]:
        ids = await worker.publish("p", [to("a", "b", data='"1"'), to(data='"2"'), to("a", data='"3"')])
        page = await broker.history("a", None, 10)
        return ids, [event.data_json for event in page.events]

    ids, seen_by_a = asyncio.run(scenario())
    assert len(ids) == 4 and len(set(ids)) == 4  # a, b, the broadcast, a again
    assert seen_by_a == ['"1"', '"2"', '"3"']  # stored before publish returned, in order
    assert published(registry, "user") == 3 and published(registry, "broadcast") == 1


def test_a_sampled_publish_stores_its_producer_span_on_every_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    broker = MemoryBroker(100, 3600)
    worker = NotificationWorker(broker, PrometheusMetrics(CollectorRegistry(), process_metrics=False), OtelTracing(provider))

    async def scenario() -> list[dict[str, str] | None]:
        await worker.publish("p", [to("a"), to("a")])
        return [event.trace for event in (await broker.history("a", None, 10)).events]

    carriers = asyncio.run(scenario())
    (span,) = exporter.get_finished_spans()
    assert span.name == "send user/{id}"
    span_id = format(span.context.span_id, "016x")
    assert len(carriers) == 2 and all(c is not None and span_id in c["traceparent"] for c in carriers)


def test_a_conflicting_idempotency_key_is_raised_counts_nothing_published_and_is_no_service_error() -> None:
    """A 409 is the publisher's mistake: nothing of the refused append counts as published, and
    `sse_errors_total{stage="publish"}` (zero most of the time) counts only the store failing."""
    registry = CollectorRegistry()
    broker = MemoryBroker(100, 3600)
    worker = NotificationWorker(broker, PrometheusMetrics(registry, process_metrics=False), NoopTracing())

    async def scenario() -> None:
        await worker.publish("p", [to("a", key="k1", data="1")])
        await worker.publish("p", [to("a", key="k1", data="2")])

    with pytest.raises(IdempotencyConflict):
        asyncio.run(scenario())
    assert published(registry, "user") == 1
    assert (registry.get_sample_value("sse_errors_total", {"stage": "publish"}) or 0.0) == 0.0
