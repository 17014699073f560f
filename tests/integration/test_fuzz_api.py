"""Schemathesis over the whole HTTP surface of a real `flagstream serve` process.

Every operation in /openapi.json gets bounded generated examples (valid and invalid
input), with a valid credential for the authenticated routes so the fuzzing reaches
the validators behind them. No answer may be a 5xx, and every answer must be one the
document describes: status, content type, headers, body schema. About half a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sse_service.openapi import openapi_document
from tests.support.server import RunningServer, start_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CONFIG = SchemathesisConfig.from_dict({"max-stream-events": 1, "request-timeout": 10})

schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


@pytest.fixture(scope="module")
def live_server() -> Iterator[RunningServer]:
    server = start_server({"FLAGSTREAM_LOG_LEVEL": "warning"})
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()
        assert "Traceback" not in server.log(), server.log()


def credential(server: RunningServer, method: str, path: str) -> dict[str, str]:
    if path in ("/v1/admin/stats", "/dashboard", "/dashboard/stream"):
        token = server.admin_token
    elif (method, path) == ("POST", "/v1/notifications"):
        token = server.publish_token
    elif path in ("/v1/stream", "/v1/notifications"):
        token = server.user_token("fuzz-user")
    else:
        return {}
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_gets_a_5xx_and_every_answer_matches_the_document(case, live_server: RunningServer) -> None:
    headers = {**credential(live_server, case.method, case.path), **(case.headers or {})}
    case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)
