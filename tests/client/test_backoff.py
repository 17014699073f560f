"""Reconnect delays: exponential ceiling, full jitter below it, Retry-After as a floor."""

from __future__ import annotations

import pytest

from flagstream_client import Backoff, BackoffPolicy
from flagstream_client.backoff import retry_after_seconds


def test_ceiling_grows_by_factor_up_to_the_maximum_and_jitter_spans_zero_to_it() -> None:
    asked: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        asked.append((low, high))
        return high / 2

    backoff = Backoff(BackoffPolicy(minimum=1, maximum=10, factor=3), rng=rng)
    delays = [backoff.next_delay() for _ in range(5)]
    assert asked == [(0, 1), (0, 3), (0, 9), (0, 10), (0, 10)]
    assert delays == [0.5, 1.5, 4.5, 5, 5]


def test_success_starts_over_from_the_minimum() -> None:
    backoff = Backoff(BackoffPolicy(minimum=1, maximum=100, factor=2), rng=lambda low, high: high)
    backoff.next_delay(), backoff.next_delay()
    backoff.succeeded()
    assert backoff.next_delay() == 1


def test_retry_after_is_never_undercut_by_jitter() -> None:
    backoff = Backoff(BackoffPolicy(minimum=1, maximum=2), rng=lambda low, high: 0.0)
    assert backoff.next_delay(at_least=7) == 7


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), (" 1 ", 1.0), (None, 0.0), ("soon", 0.0), ("-4", 0.0)])
def test_retry_after_header_parsing(header: str | None, seconds: float) -> None:
    assert retry_after_seconds(header) == seconds


@pytest.mark.parametrize("kwargs", [{"minimum": 0}, {"minimum": 5, "maximum": 1}, {"factor": 0.5}])
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)
