"""After `disabled` (a kill switch ends every stream at once) the first inbox poll is jittered."""

from __future__ import annotations

from flagstream_client import ClientOptions, NotificationClient
from flagstream_client.notifications import _Poll
from flagstream_client.reconnect_policy import rule_for


def first_poll_delay(client: NotificationClient) -> float:
    outcome = client._outcome(rule_for("disabled"))
    assert isinstance(outcome, _Poll)
    return outcome.first_delay


def test_the_first_poll_after_disabled_is_jittered_within_the_window() -> None:
    jittered = NotificationClient("http://127.0.0.1:1", "t", options=ClientOptions(poll_interval=5.0))
    delays = [first_poll_delay(jittered) for _ in range(200)]
    assert all(0 <= d <= 5.0 for d in delays) and len(set(delays)) > 100
    windowed = NotificationClient("http://127.0.0.1:1", "t", options=ClientOptions(first_poll_jitter=0.5))
    assert all(0 <= first_poll_delay(windowed) <= 0.5 for _ in range(50))
    at_once = NotificationClient("http://127.0.0.1:1", "t", options=ClientOptions(first_poll_jitter=0))
    assert first_poll_delay(at_once) == 0
