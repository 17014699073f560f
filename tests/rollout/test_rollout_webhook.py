"""The transition webhook: JSON POSTs, retried with backoff, never holding up the controller."""

from __future__ import annotations

import asyncio
import logging

from rollout.types import GateReading, Transition, Verdict
from rollout.webhook import WebhookNotifier
from tests.rollout.http_fixtures import Receiver, webhook_receiver

ROLLBACK = Transition(
    time=1_800_000_000.0,
    actor="controller",
    action="rollback",
    from_phase="progressing",
    to_phase="rolled_back",
    from_step="half",
    to_step="five",
    percentage=5,
    reason="2 consecutive failed checks",
    gates=(GateReading("error_ratio", 0.2, "<= 0.01", 500, Verdict.FAIL),),
)


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def test_a_failing_receiver_gets_the_transition_after_retries():
    receiver = Receiver(failures_first=2)
    with webhook_receiver(receiver) as url:
        notifier = WebhookNotifier(url, "sse-delivery", first_delay=0.01)
        notifier.start()
        notifier.notify(ROLLBACK)
        await until(lambda: notifier.delivered == 1)
        await notifier.close()
    assert receiver.attempts == 3
    [body] = receiver.bodies
    assert body["flag"] == "sse-delivery" and body["action"] == "rollback" and body["actor"] == "controller"
    assert body["gates"] == [{"gate": "error_ratio", "value": 0.2, "threshold": "<= 0.01", "samples": 500, "verdict": "fail"}]


async def test_a_receiver_refusing_with_4xx_is_not_retried():
    receiver = Receiver(failures_first=10, status=400)
    with webhook_receiver(receiver) as url:
        notifier = WebhookNotifier(url, "sse-delivery", first_delay=0.01)
        notifier.start()
        notifier.notify(ROLLBACK)
        await until(lambda: notifier.failed == 1)
        await notifier.close()
    assert receiver.attempts == 1


async def test_notify_never_waits_even_when_nothing_answers():
    notifier = WebhookNotifier("http://127.0.0.1:1/hook", "sse-delivery", first_delay=10, queue_size=2)
    notifier.start()
    for _ in range(5):
        notifier.notify(ROLLBACK)  # returns at once; the oldest pending are dropped
    assert notifier.failed >= 2
    await notifier.close(grace=0.1)


async def test_webhook_logs_show_scheme_and_host_never_the_secret_path(caplog):
    """A Slack-style webhook URL is the credential: no log line may carry its path."""
    caplog.set_level(logging.DEBUG)
    receiver = Receiver(failures_first=10, status=404)
    with webhook_receiver(receiver) as url:
        secret_url = f"{url}/services/T0001/B0002/Xsecret0token0value"
        notifier = WebhookNotifier(secret_url, "sse-delivery", first_delay=0.01)
        notifier.start()
        notifier.notify(ROLLBACK)
        await until(lambda: notifier.failed == 1)
        await notifier.close()
        dead = WebhookNotifier("http://127.0.0.1:1/services/T1/B2/Ydead0secret", "sse-delivery", first_delay=0.01, attempts=2)
        dead.start()
        dead.notify(ROLLBACK)
        await until(lambda: dead.failed == 1)
        await dead.close()
    assert "refused the transition" in caplog.text and "failed 2 times" in caplog.text
    assert "Xsecret0token0value" not in caplog.text and "Ydead0secret" not in caplog.text
    assert "http://127.0.0.1:1/…" in caplog.text
