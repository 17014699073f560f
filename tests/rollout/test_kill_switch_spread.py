"""No kill-switch stampede: a real `flagstream serve`, 200 real Python clients streaming, and the
flag turned off in the flags file. Measured: flag change → last `disabled`, and the inbox's peak
request rate, with DISABLE_SPREAD + the clients' first-poll jitter and without them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flags import FileFlagAdmin
from flagstream_client import BackoffPolicy, ClientOptions, NotificationClient
from tests.support.server import start_server

pytestmark = pytest.mark.slow

USERS = 200
POLL_INTERVAL = 2.0
BUCKET = 0.1  # the peak rate is the busiest 100 ms, per second


@dataclass(frozen=True)
class KillSwitch:
    last_disabled: float  # seconds from the flag file write to the last client polling
    inbox_peak_per_second: float
    inbox_requests: int


async def kill_switch(tmp_path: Path, spread: float, jitter: float) -> KillSwitch:
    flags_file = tmp_path / f"flags-{spread}.json"
    admin = FileFlagAdmin(flags_file)
    await admin.set_rollout(100)
    await admin.enable()
    server = await asyncio.to_thread(
        start_server,
        {
            "FLAGSTREAM_FLAGS_FILE": str(flags_file),
            "FLAGSTREAM_FLAGS_REFRESH_INTERVAL": "0.05",
            "FLAGSTREAM_DISABLE_SPREAD": str(spread),
            "FLAGSTREAM_LOG_LEVEL": "warning",
        },
    )
    inbox: list[float] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path == "/v1/notifications":
            inbox.append(time.monotonic())

    options = ClientOptions(
        backoff=BackoffPolicy(minimum=0.5, maximum=5),
        poll_interval=POLL_INTERVAL,
        stream_retry_after=60,
        first_poll_jitter=jitter,
    )
    limits = httpx.Limits(max_connections=2 * USERS + 10)
    try:
        async with httpx.AsyncClient(limits=limits, event_hooks={"request": [record]}) as http:
            clients = [
                NotificationClient(server.url, server.user_token(f"ks-{n}"), options=options, http=http) for n in range(USERS)
            ]
            tasks = [asyncio.create_task(_drain(client)) for client in clients]
            try:
                await _until(lambda: all(c.stats.connects == 1 for c in clients), 60)
                inbox.clear()
                changed = time.monotonic()
                await admin.disable()
                polling_at: dict[int, float] = {}
                deadline = changed + spread + 20
                while len(polling_at) < USERS:
                    assert time.monotonic() < deadline, f"{USERS - len(polling_at)} clients never got disabled"
                    now = time.monotonic()
                    polling_at.update({n: now for n, c in enumerate(clients) if c.mode == "polling" and n not in polling_at})
                    await asyncio.sleep(0.005)
                await asyncio.sleep(jitter + POLL_INTERVAL)  # every first poll has happened
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.stop()
    first_polls = [t - changed for t in inbox if t >= changed]
    buckets: dict[int, int] = {}
    for offset in first_polls:
        buckets[int(offset / BUCKET)] = buckets.get(int(offset / BUCKET), 0) + 1
    return KillSwitch(max(polling_at.values()) - changed, max(buckets.values()) / BUCKET, len(first_polls))


async def _drain(client: NotificationClient) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        async for _ in client:
            pass


async def _until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_kill_switch_spreads_disabled_and_first_polls_instead_of_a_stampede(tmp_path: Path) -> None:
    stampede = await kill_switch(tmp_path, spread=0, jitter=0)
    spread = await kill_switch(tmp_path, spread=3, jitter=POLL_INTERVAL)
    print(
        f"\nkill switch, {USERS} streams: without spread: last disabled {stampede.last_disabled:.2f} s, "
        f"inbox peak {stampede.inbox_peak_per_second:.0f} req/s ({stampede.inbox_requests} requests); "
        f"DISABLE_SPREAD=3 + first-poll jitter {POLL_INTERVAL:g} s: last disabled {spread.last_disabled:.2f} s, "
        f"inbox peak {spread.inbox_peak_per_second:.0f} req/s ({spread.inbox_requests} requests)"
    )
    assert spread.last_disabled <= 3 + 1.5, "every stream ended within the window (plus a flags refresh)"
    assert spread.inbox_peak_per_second * 3 <= stampede.inbox_peak_per_second
