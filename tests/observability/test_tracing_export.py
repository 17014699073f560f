"""Spans reach an OTLP/HTTP collector when, and only when, the standard variables say so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from observability.tracing import NoopTracing, OtelTracing, tracing_from_env
from observability.types import DESTINATION_USER


class _Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.requests: list[tuple[str, str, bytes]] = []


class _CollectorHandler(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_are_exported_as_otlp_protobuf_to_the_configured_endpoint(collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_address[1]}")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    tracing = tracing_from_env(service_version="1.2.3")
    assert isinstance(tracing, OtelTracing)
    with tracing.publish(2, DESTINATION_USER) as carrier:
        pass
    tracing.delivered([carrier], 2, DESTINATION_USER)
    tracing.shutdown()  # flushes the batch processor

    assert collector.requests, "no export request reached the collector"
    path, content_type, body = collector.requests[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    resource_spans = request.resource_spans[0]
    resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
    assert resource["service.name"] == "flagstream"
    assert resource["service.version"] == "1.2.3"
    names = [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert names == ["send user/{id}", "process user/{id}"]


def test_service_name_from_the_environment_wins(collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{collector.server_address[1]}/custom")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "flagstream-eu1")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    tracing = tracing_from_env()
    with tracing.publish(1, DESTINATION_USER):
        pass
    tracing.shutdown()
    path, _, body = collector.requests[0]
    assert path == "/custom"
    resource = ExportTraceServiceRequest.FromString(body).resource_spans[0].resource
    assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "flagstream-eu1"


def test_nothing_is_exported_without_an_endpoint(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(tracing_from_env(), NoopTracing)


def test_without_a_configured_sampler_traces_started_here_are_sampled_at_the_default_ratio(monkeypatch):
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    from observability.tracing import DEFAULT_TRACE_RATIO, default_sampler

    sampler = default_sampler({})
    assert isinstance(sampler, ParentBasedTraceIdRatio)
    assert f"TraceIdRatioBased{{{DEFAULT_TRACE_RATIO}}}" in sampler.get_description()
    assert default_sampler({"OTEL_TRACES_SAMPLER": "always_on"}) is None  # the SDK reads it
