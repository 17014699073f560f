"""`flagstream publish` goes through the publisher SDK: a refusal is one line naming the
field (exit 2), an unreachable service one line (exit 1) after the SDK's retries."""

from __future__ import annotations

import asyncio
import json

import pytest

from sse_service.cli import main
from tests.support.inprocess import PUBLISH
from tests.support.redis_server import free_port


@pytest.fixture(autouse=True)
def publish_token(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("FLAGSTREAM_PUBLISH_TOKEN", PUBLISH)
    monkeypatch.setenv("FLAGSTREAM_JWT_SECRET", "cli-secret-0123456789abcdef0123456789")
    monkeypatch.setenv("FLAGSTREAM_STATE_DIR", str(tmp_path))


async def test_publish_prints_the_ids_of_several_recipients(served, capsys) -> None:
    code = await asyncio.to_thread(main, ["publish", "--url", served.url, "--user", "a", "--user", "b", "--data", '{"x": 1}'])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)["ids"]) == 2


async def test_a_refusal_is_one_line_naming_the_field(served, capsys) -> None:
    code = await asyncio.to_thread(main, ["publish", "--url", served.url, "--user", "a", "--event", "bad event!", "--data", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "notifications[0].event" in err[0]


def test_an_unreachable_service_is_one_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from flagstream_publisher import RetryPolicy

    monkeypatch.setattr("flagstream_publisher.RetryPolicy", lambda **_: RetryPolicy(attempts=2, initial_delay=0.01))
    code = main(["publish", "--url", f"http://127.0.0.1:{free_port()}", "--user", "a", "--data", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "unavailable" in err[0]
