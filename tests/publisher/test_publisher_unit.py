"""The publisher's decisions without a server: backoff, Retry-After, field numbering, ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from flagstream_publisher import InvalidNotification, Notification, PublishRefused, PublishUnavailable, RetryPolicy, Unauthorized
from flagstream_publisher.attempts import Attempts, Stored, Wait
from flagstream_publisher.publisher import _Common
from flagstream_publisher.retry import parse_retry_after


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_never_waits_less_than_retry_after_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.1, max_delay=1.0)
    rng = random.Random(7)
    assert policy.delay(1, 2.0, rng) == 2.0
    assert all(0.5 <= policy.delay(10, None, rng) <= 1.0 for _ in range(100))
    assert all(0.05 <= policy.delay(1, None, rng) <= 0.1 for _ in range(100))


def _attempts(policy: RetryPolicy = RetryPolicy(), offset: int = 0, clock=lambda: 0.0) -> Attempts:
    return Attempts(policy, offset=offset, published=[["earlier"]], clock=clock)


def test_429_and_503_are_retried_after_their_retry_after() -> None:
    attempts = _attempts()
    for status in (429, 503):
        outcome = attempts.answered(status, {"retry-after": "2"}, b"")
        assert isinstance(outcome, Wait) and outcome.seconds >= 2.0


def test_giving_up_after_the_last_attempt_or_past_the_deadline() -> None:
    attempts = _attempts(RetryPolicy(attempts=2))
    attempts.failed(ConnectionError("refused"))
    with pytest.raises(PublishUnavailable) as raised:
        attempts.answered(503, {}, b"")
    assert raised.value.attempts == 2 and raised.value.last_status == 503 and raised.value.published == [["earlier"]]
    with pytest.raises(PublishUnavailable):
        _attempts(RetryPolicy(deadline=5)).answered(429, {"retry-after": "60"}, b"")


def test_a_422_names_fields_numbered_over_the_whole_list() -> None:
    body = b'{"error": "invalid", "detail": [{"field": "notifications[3].event", "message": "bad"}]}'
    with pytest.raises(InvalidNotification) as raised:
        _attempts(offset=1000).answered(422, {}, body)
    assert [(p.field, p.message) for p in raised.value.problems] == [("notifications[1003].event", "bad")]
    assert "notifications[1003].event: bad" in str(raised.value)


@pytest.mark.parametrize("status, kind", [(401, Unauthorized), (403, Unauthorized), (404, PublishRefused), (400, PublishRefused)])
def test_other_4xx_are_refusals_not_retried(status, kind) -> None:
    with pytest.raises(kind):
        _attempts().answered(status, {}, b"not json")


def test_ids_are_split_per_notification() -> None:
    batch = [Notification.to_users(["a", "b", "a"], 1), Notification.to_everyone(2), Notification.to_user("c", 3)]
    assert _Common.split(batch, ["1", "2", "3", "4"]) == [["1", "2"], ["3"], ["4"]]
    assert _attempts().answered(202, {}, b'{"ids": ["1"]}') == Stored(["1"])


def test_every_notification_gets_a_key_before_its_first_attempt_and_keeps_a_given_one() -> None:
    common = _Common("http://x", "t", max_batch=2)
    batches = list(
        common.batches(
            [Notification.to_user("u", 1), Notification.to_user("u", 2, idempotency_key="mine"), Notification.to_user("u", 3)]
        )
    )
    assert [offset for offset, _ in batches] == [0, 2]
    keys = [n.idempotency_key for _, batch in batches for n in batch]
    assert keys[1] == "mine" and keys[0] and keys[2] and keys[0] != keys[2]
