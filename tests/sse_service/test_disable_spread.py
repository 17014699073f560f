"""The kill switch's `disabled`, spread over a window instead of sent to everyone at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import cycle

from observability.metrics import NoopMetrics
from sse_service.connection import Connection
from sse_service.disable_spread import SpreadDisabler
from sse_service.hub import Hub, HubLimits


def streams(hub: Hub, users: list[str]) -> list[Connection]:
    connections = [Connection(user, queue_size=4, ping_interval=30, batch_window=0, expires_at=None, now=0.0) for user in users]
    for connection in connections:
        hub.register(connection)
    return connections


async def ended(connections: list[Connection], condition: Callable[[Connection], bool]) -> None:
    while not all(condition(c) for c in connections):
        await asyncio.sleep(0.005)


async def test_without_a_window_every_stream_ends_at_once() -> None:
    hub = Hub(HubLimits(100, 1000), NoopMetrics())
    connections = streams(hub, ["a", "b", "c"])
    SpreadDisabler(hub, lambda user: True, window=0).disable(connections)
    assert all(c.closing is not None and c.closing.reason == "disabled" for c in connections)


async def test_with_a_window_streams_end_one_by_one_at_their_own_moment() -> None:
    hub = Hub(HubLimits(100, 1000), NoopMetrics())
    connections = streams(hub, [f"u{n}" for n in range(4)])
    fractions = cycle([0.0, 0.25, 0.5, 0.75])
    disabler = SpreadDisabler(hub, lambda user: True, window=0.2, random_fraction=lambda: next(fractions))
    disabler.disable(connections)
    assert all(c.closing is None for c in connections), "nothing ends in the same instant"
    assert disabler.pending == 4
    order: list[str] = []

    async def watch() -> None:
        while len(order) < 4:
            order.extend(c.user_id for c in connections if c.closing is not None and c.user_id not in order)
            await asyncio.sleep(0.001)

    await asyncio.wait_for(watch(), 5)
    assert order == ["u0", "u1", "u2", "u3"] and disabler.pending == 0


async def test_a_user_back_in_the_rollout_before_their_moment_keeps_streaming() -> None:
    hub = Hub(HubLimits(100, 1000), NoopMetrics())
    stay, leave = streams(hub, ["stay", "leave"])
    disabled_users = {"stay", "leave"}
    disabler = SpreadDisabler(hub, lambda user: user in disabled_users, window=0.05)
    disabler.disable([stay, leave])
    disabled_users.discard("stay")  # the flag came back on for this user
    await asyncio.wait_for(ended([leave], lambda c: c.closing is not None), 5)
    await asyncio.wait_for(ended([stay], lambda c: disabler.pending == 0), 5)
    assert stay.closing is None and leave.closing.reason == "disabled"


async def test_a_second_flag_change_does_not_push_a_scheduled_disabled_later() -> None:
    hub = Hub(HubLimits(100, 1000), NoopMetrics())
    [connection] = streams(hub, ["a"])
    fractions = iter([0.1, 0.9])
    disabler = SpreadDisabler(hub, lambda user: True, window=10, random_fraction=lambda: next(fractions))
    disabler.disable([connection])
    disabler.disable([connection])
    assert disabler.pending == 1
    disabler.cancel()
    assert disabler.pending == 0
