"""The shared reconnect table (clients/js/src/reconnect-policy.json, also run by the vitest suite):
the Python client and the load generator do what it says in every situation it names."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

import pytest

from flagstream_client import ClientOptions, NotificationClient
from flagstream_client.backoff import Backoff
from flagstream_client.notifications import _Poll, _Reauth, _Reconnect
from flagstream_client.reconnect_policy import POLICY, rule_for, situation_of_ending, situation_of_status
from flagstream_client.types import BackoffPolicy
from loadtest.stream_slot import POLL_ROUND, StreamSlot, WorkerTotals

ROOT = Path(__file__).resolve().parents[2]
WINDOW = BackoffPolicy(minimum=1.0, maximum=60.0, factor=2.0)
SERVER_SAYS = 20.0  # Retry-After or retry:, longer than the first backoff window
AFTER_AN_ATTEMPT = [
    name for name, rule in POLICY["situations"].items() if rule["action"] not in ("keep-reading", "refetch-inbox")
]

# How each situation is reached: (status, None) for a refusal, (None, (event, retry_ms)) for a last event.
REACHED_BY: dict[str, tuple[int | None, tuple[str, int | None] | None]] = {
    "status-204": (204, None),
    "status-401": (401, None),
    "status-422": (422, None),
    "status-429": (429, None),
    "status-503": (503, None),
    "status-other": (500, None),
    "disabled": (None, ("disabled", None)),
    "evicted": (None, ("evicted", None)),
    "overflow": (None, ("overflow", None)),
    "reauth": (None, ("reauth", None)),
    "shutdown-with-retry": (None, ("shutdown", int(SERVER_SAYS * 1000))),
    "shutdown-without-retry": (None, ("shutdown", None)),
    "stream-ended": (None, ("no-such-final-event", None)),
    "network-error": (None, None),
}
EXPECTED_DELAY = {"none": 0.0, "backoff": WINDOW.minimum, "backoff-after-first": WINDOW.minimum, "retry-or-backoff": SERVER_SAYS}


def widest(_low: float, high: float) -> float:
    return high


def client_rule(situation: str):  # type: ignore[no-untyped-def]
    status, ending = REACHED_BY[situation]
    if status is not None:
        return rule_for(situation_of_status(status))
    if ending is None:
        return rule_for("network-error")
    return rule_for(situation_of_ending(*ending) or "stream-ended")


def test_the_python_client_ships_the_same_table_as_the_js_package() -> None:
    shipped = resources.files("flagstream_client").joinpath("reconnect-policy.json").read_text("utf-8")
    assert json.loads(shipped) == json.loads((ROOT / "clients/js/src/reconnect-policy.json").read_text("utf-8"))
    assert "src/reconnect-policy.json" in json.loads((ROOT / "clients/js/package.json").read_text("utf-8"))["files"]


@pytest.mark.parametrize("situation", AFTER_AN_ATTEMPT)
def test_the_python_client_follows_the_table(situation: str) -> None:
    client = NotificationClient("http://127.0.0.1:1", "t", options=ClientOptions(backoff=WINDOW, first_poll_jitter=0))
    client._backoff = Backoff(WINDOW, rng=widest)
    client._auth_failures = 1  # the second 401 in a row: backoff-after-first backs off
    rule = client_rule(situation)
    assert rule.situation == situation
    outcome = client._outcome(rule, SERVER_SAYS if "retry" in rule.delay else 0.0)
    expected = {"poll": _Poll, "refresh-token-then-reconnect": _Reauth}.get(rule.action, _Reconnect)
    assert type(outcome) is expected
    delay = outcome.first_delay if isinstance(outcome, _Poll) else outcome.delay
    assert delay == EXPECTED_DELAY.get(rule.delay, 0.0)


@pytest.mark.parametrize("situation", AFTER_AN_ATTEMPT)
def test_the_load_generator_follows_the_table(situation: str) -> None:
    async def scenario() -> StreamSlot:
        slot = StreamSlot("u1", "t", "127.0.0.1", 1, WorkerTotals(), asyncio.Semaphore(1), lambda _slot: None)
        slot.backoff = Backoff(WINDOW, rng=widest)
        slot.last_event_id = "7-0"
        status, ending = REACHED_BY[situation]
        if status is not None:
            slot.on_status(status, str(int(SERVER_SAYS)))
        elif ending is not None:
            event, retry = ending
            block = f"event: {event}\ndata: {{}}" + (f"\nretry: {retry}" if retry is not None else "")
            slot.on_block(block.encode(), 0.0)
        else:
            slot.follow(rule_for("network-error"))
        return slot

    slot = asyncio.run(scenario())
    rule = client_rule(situation)
    if rule.action == "refresh-token-then-reconnect":
        assert slot.failed  # one fixed token: it cannot get a fresh one, so it stops
        return
    assert not slot.failed
    assert (slot.last_event_id is None) == (rule.action == "drop-cursor-and-refetch-inbox")
    expected = EXPECTED_DELAY.get(rule.delay, 0.0)
    assert slot.next_delay == (max(expected, POLL_ROUND) if rule.action == "poll" else expected)


def test_only_an_opened_stream_resets_the_backoff() -> None:
    assert [name for name, rule in POLICY["situations"].items() if rule["resets_backoff"]] == ["connected"]
    assert set(REACHED_BY) == set(AFTER_AN_ATTEMPT)
