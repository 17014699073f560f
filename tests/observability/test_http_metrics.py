"""HTTP request durations: route templates, bounded labels, streams timed to first byte, exemplars."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from quart import Quart, Response

from observability.http_metrics import HttpMetricsMiddleware
from observability.openmetrics import render_metrics
from observability.tracing import OtelTracing
from observability.types import DESTINATION_USER

OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def build_app(registry: CollectorRegistry, tracing: OtelTracing | None = None) -> tuple[Quart, asyncio.Event]:
    """A tiny Quart app shaped like the service's routes (not the service itself)."""
    app = Quart(__name__)
    stream_may_end = asyncio.Event()

    @app.post("/v1/notifications")
    async def publish() -> tuple[dict, int]:
        if tracing is not None:
            with tracing.publish(1, DESTINATION_USER):
                pass
        return {"ids": ["1"]}, 202

    @app.get("/v1/items/<item_id>")
    async def item(item_id: str) -> dict:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("handler failed")

    @app.get("/v1/stream")
    async def stream() -> Response:
        async def body():
            yield b"event: connected\ndata: {}\n\n"
            await stream_may_end.wait()

        response = Response(body(), content_type="text/event-stream")
        response.timeout = None
        return response

    def route_of(method: str, path: str) -> str | None:
        # What the app factory passes in: the matched werkzeug rule's template.
        try:
            rule, _ = app.url_map.bind("").match(path, method, return_rule=True)
        except Exception:
            return None
        return rule.rule

    app.asgi_app = HttpMetricsMiddleware(app.asgi_app, registry=registry, route_of=route_of, tracing=tracing)
    return app, stream_may_end


def count(registry: CollectorRegistry, route: str, method: str, status: str) -> float | None:
    return registry.get_sample_value("http_request_duration_seconds_count", {"route": route, "method": method, "status": status})


async def test_requests_are_counted_by_route_template_method_and_status():
    registry = CollectorRegistry()
    app, _ = build_app(registry)
    client = app.test_client()
    assert (await client.post("/v1/notifications", json={})).status_code == 202
    await client.get("/v1/items/42")
    await client.get("/v1/items/43")
    await client.get("/no/such/path")
    await client.delete("/v1/notifications")
    assert count(registry, "/v1/notifications", "POST", "202") == 1
    assert count(registry, "/v1/items/<item_id>", "GET", "200") == 2
    assert count(registry, "other", "GET", "404") == 1
    assert count(registry, "other", "DELETE", "405") == 1
    assert (
        registry.get_sample_value(
            "http_request_duration_seconds_sum", {"route": "/v1/items/<item_id>", "method": "GET", "status": "200"}
        )
        > 0
    )


async def test_unusual_methods_are_folded_into_other():
    registry = CollectorRegistry()
    app, _ = build_app(registry)
    await app.test_client().open("/v1/items/1", method="PROPFIND")
    assert count(registry, "other", "other", "405") == 1


async def test_a_failing_handler_is_recorded_as_500():
    registry = CollectorRegistry()
    app, _ = build_app(registry)
    response = await app.test_client().get("/boom")
    assert response.status_code == 500
    assert count(registry, "/boom", "GET", "500") == 1


async def test_the_stream_is_timed_until_its_response_starts_not_while_it_stays_open():
    registry = CollectorRegistry()
    app, stream_may_end = build_app(registry)
    async with app.test_client().request("/v1/stream") as connection:
        await connection.send_complete()
        first = await asyncio.wait_for(connection.receive(), timeout=10)
        assert b"event: connected" in first
        # The stream is still open, and its connect time is already recorded.
        assert count(registry, "/v1/stream", "GET", "200") == 1
        stream_may_end.set()
    assert count(registry, "/v1/stream", "GET", "200") == 1


async def test_observations_carry_the_request_trace_id_as_an_openmetrics_exemplar():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = OtelTracing(provider)
    registry = CollectorRegistry()
    app, _ = build_app(registry, tracing)
    await app.test_client().post("/v1/notifications", json={})

    producer, server = exporter.get_finished_spans()
    assert server.name == "POST /v1/notifications"
    assert producer.parent.span_id == server.context.span_id, "the handler runs inside the request span"
    trace_id = format(server.context.trace_id, "032x")

    body, content_type = render_metrics(registry, OPENMETRICS_ACCEPT)
    assert content_type.startswith("application/openmetrics-text")
    assert f'# {{trace_id="{trace_id}"}}' in body.decode()

    classic, classic_type = render_metrics(registry, None)
    assert classic_type.startswith("text/plain")
    assert b"trace_id" not in classic
    assert b'http_request_duration_seconds_count{method="POST",route="/v1/notifications",status="202"} 1.0' in classic


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_non_http_scopes_pass_through_untouched(scope_type):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    middleware = HttpMetricsMiddleware(app, registry=CollectorRegistry(), route_of=lambda m, p: None)
    await middleware({"type": scope_type}, None, None)
    assert seen == [scope_type]


async def test_the_request_span_continues_the_callers_trace():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app, _ = build_app(CollectorRegistry(), OtelTracing(provider))
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await app.test_client().post("/v1/notifications", json={}, headers={"traceparent": caller})
    producer, server = exporter.get_finished_spans()
    assert format(server.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert producer.context.trace_id == server.context.trace_id
