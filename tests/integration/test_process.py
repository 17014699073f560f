"""The real `flagstream` process: SIGTERM drain, vanished clients, configuration, logs, CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from tests.support.inprocess import open_stream
from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.slow


def flagstream(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sse_service.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def connections(server: RunningServer) -> float:
    text = httpx.get(server.url + "/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith("sse_connections "))
    return float(line.split()[1])


async def test_sigterm_sends_every_stream_shutdown_with_jittered_retry_and_exits(server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with (
            open_stream(client, server.url, {"Authorization": f"Bearer {server.user_token('a')}"}) as s1,
            open_stream(client, server.url, {"Authorization": f"Bearer {server.user_token('b')}"}) as s2,
        ):
            await s1.next(), await s2.next()
            started = time.monotonic()
            server.terminate()
            last1, last2 = await s1.next(), await s2.next()
    assert last1.event == last2.event == "shutdown"
    assert last1.retry and last2.retry and last1.retry >= 3000
    assert await asyncio.to_thread(server.process.wait, 10) == 0
    assert time.monotonic() - started < 5 + 2


async def test_draining_refuses_new_streams_and_readyz_says_so(served) -> None:
    served.services.hub.start_draining()
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{served.url}/v1/stream", headers=served.auth("late"))
        assert r.status_code == 503 and r.json()["error"] == "draining" and r.headers["retry-after"]
        ready = await client.get(f"{served.url}/readyz", headers={"Authorization": f"Bearer {served.settings.admin_token}"})
        assert ready.status_code == 503 and ready.json()["draining"] is True


def test_a_killed_client_is_cleaned_up(server: RunningServer) -> None:
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import httpx, sys
        with httpx.stream("GET", "{server.url}/v1/stream", headers={{"Authorization": "Bearer {server.user_token("k")}"}}, timeout=None) as r:
            for line in r.iter_lines():
                if line.startswith("event: connected"):
                    print("connected", flush=True)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout.readline().strip() == "connected"
    assert connections(server) == 1
    client.send_signal(signal.SIGKILL)
    client.wait()
    deadline = time.monotonic() + 10
    while connections(server) != 0:
        assert time.monotonic() < deadline, "the killed client's stream was never cleaned up"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "env, name",
    [
        ({"FLAGSTREAM_PORT": "eighty"}, "FLAGSTREAM_PORT"),
        ({"FLAGSTREAM_BROKER": "kafka"}, "FLAGSTREAM_BROKER"),
        ({"FLAGSTREAM_WORKERS": "2"}, "FLAGSTREAM_WORKERS"),
        ({"FLAGSTREAM_QUEUE_SIZE": "0"}, "FLAGSTREAM_QUEUE_SIZE"),
        ({"FLAGSTREAM_FLAGS_FILE": "/nonexistent/flags.json"}, "FLAGSTREAM_FLAGS_FILE"),
    ],
)
def test_invalid_configuration_fails_at_start_with_one_line_naming_the_setting(env, name, tmp_path) -> None:
    result = flagstream("serve", env={**env, "FLAGSTREAM_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_settings_apply_and_env_overrides_them(tmp_path) -> None:
    config = tmp_path / "flagstream.toml"
    config.write_text('queue_size = "many"\n')
    result = flagstream("serve", "--config", str(config), env={"FLAGSTREAM_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2 and "FLAGSTREAM_QUEUE_SIZE" in result.stderr


def test_access_tokens_in_query_strings_never_reach_the_log() -> None:
    server = start_server({"FLAGSTREAM_LOG_LEVEL": "debug"})
    try:
        token = server.user_token("logged")
        httpx.get(f"{server.url}/v1/notifications", params={"access_token": token}, timeout=5)
        with httpx.stream("GET", f"{server.url}/v1/stream", params={"access_token": token}, timeout=5) as r:
            next(r.iter_lines())
    finally:
        server.stop()
    log = server.log()
    assert "access_token=[redacted]" in log
    assert token not in log


def test_token_and_publish_commands(server: RunningServer) -> None:
    env = {"FLAGSTREAM_JWT_SECRET": server.jwt_secret, "FLAGSTREAM_PUBLISH_TOKEN": server.publish_token}
    minted = flagstream("token", "--user", "cli-user", env=env)
    assert minted.returncode == 0
    inbox_url = f"{server.url}/v1/notifications"
    published = flagstream("publish", "--url", server.url, "--user", "cli-user", "--data", '{"x": 1}', env=env)
    assert published.returncode == 0, published.stderr
    inbox = httpx.get(inbox_url, headers={"Authorization": f"Bearer {minted.stdout.strip()}"}).json()
    assert [n["data"] for n in inbox["notifications"]] == [{"x": 1}]
    bad = flagstream("publish", "--url", server.url, "--user", "u", "--data", "{oops", env=env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_an_unreadable_flags_file_fails_at_start_with_one_line(tmp_path) -> None:
    bad = tmp_path / "flags.json"
    bad.write_text("{not json")
    result = flagstream("serve", env={"FLAGSTREAM_FLAGS_FILE": str(bad), "FLAGSTREAM_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "FLAGSTREAM_FLAGS_FILE" in result.stderr


def test_without_redis_the_service_starts_unready_and_recovers_when_redis_appears(redis_prefix) -> None:
    from tests.support.redis_server import free_port, start_redis

    port = free_port()
    server = start_server(
        {
            "FLAGSTREAM_BROKER": "redis",
            "FLAGSTREAM_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "FLAGSTREAM_REDIS_PREFIX": redis_prefix,
        },
        wait_ready=False,
    )
    redis_process = None
    try:
        ready = httpx.get(server.url + "/readyz", timeout=5, headers={"Authorization": f"Bearer {server.admin_token}"})
        assert ready.status_code == 503 and ready.json()["broker"]["state"] == "unavailable"
        redis_process = start_redis(port)
        deadline = time.monotonic() + 20
        while httpx.get(server.url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "never became ready after Redis appeared"
            time.sleep(0.1)
        assert server.publish({"user_id": "late", "data": 1})
    finally:
        server.stop()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(5)
