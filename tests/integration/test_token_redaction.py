"""Tokens in query strings never reach the access log, however the parameter name is spelled."""

from __future__ import annotations

import httpx
import pytest

from sse_service.server import redact
from tests.support.server import start_server

# Every spelling the routes decode to `access_token` (percent-encoding is undone before lookup).
SPELLINGS = ["access_token", "access%5Ftoken", "access%5ftoken", "%61ccess_token", "%61%63%63%65%73%73%5F%74%6F%6B%65%6E"]


@pytest.mark.slow
def test_encoded_access_token_names_are_redacted_in_the_real_access_log() -> None:
    server = start_server({"FLAGSTREAM_LOG_LEVEL": "debug"})
    secrets = []
    try:
        for index, name in enumerate(SPELLINGS):
            token = server.user_token(f"logged-{index}")
            secrets.append(token)
            inbox = httpx.get(f"{server.url}/v1/notifications?{name}={token}", timeout=5)
            assert inbox.status_code == 200, (name, inbox.text)  # the spelling is accepted…
            with httpx.stream("GET", f"{server.url}/v1/stream?{name}={token}&x=1", timeout=5) as r:
                assert r.status_code == 200
                next(r.iter_lines())
        dashboard = httpx.get(f"{server.url}/dashboard?access%5Ftoken={server.admin_token}", timeout=5)
        assert dashboard.status_code == 303  # …and so is the admin's
        secrets.append(server.admin_token)
    finally:
        server.stop()
    log = server.log()
    assert log.count("=[redacted]") >= 2 * len(SPELLINGS) + 1
    for secret in secrets:
        assert secret not in log  # …but never logged


@pytest.mark.parametrize(
    "query, expected",
    [
        ("access_token=abc", "access_token=[redacted]"),
        ("a=1&access%5Ftoken=abc&b=2", "a=1&access%5Ftoken=[redacted]&b=2"),
        ("ACCESS_TOKEN=abc&access_token=def", "ACCESS_TOKEN=[redacted]&access_token=[redacted]"),
        ("access+token=abc&x=access_token", "access+token=abc&x=access_token"),
        ("", ""),
    ],
)
def test_redact_works_on_decoded_parameter_names(query: str, expected: str) -> None:
    assert redact(query) == expected
