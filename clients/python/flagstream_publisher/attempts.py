"""One batch request's attempts, without I/O: given each answer (or failure to get one),
say whether the batch is stored (its ids), to wait and try again, or to give up (raise).
The sync and async publishers share it and differ only in how they send and sleep."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import FieldProblem, InvalidNotification, PayloadTooLarge, PublishRefused, PublishUnavailable, Unauthorized
from .retry import RETRIED_STATUSES, RetryPolicy, parse_retry_after

_ITEM = re.compile(r"^notifications\[(\d+)\]")


@dataclass(frozen=True)
class Stored:
    ids: list[str]


@dataclass(frozen=True)
class Wait:
    seconds: float


class Attempts:
    def __init__(
        self, policy: RetryPolicy, *, offset: int, published: list[list[str]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy
        self._offset = offset  # index of the batch's first notification in the caller's list
        self._published = published
        self._clock = clock
        self._started = clock()
        self.failures = 0

    def answered(self, status: int, headers: Any, body: bytes) -> Stored | Wait:
        if status == 202:
            ids = _json(body).get("ids")
            if not isinstance(ids, list):
                raise PublishRefused(status, "bad_answer", detail="202 without an ids list", published=self._published)
            return Stored([str(i) for i in ids])
        if status in RETRIED_STATUSES:
            return self._again(f"HTTP {status}", status, parse_retry_after(headers.get("retry-after")))
        raise self._refusal(status, _json(body))

    def failed(self, error: Exception) -> Wait:
        """No answer (refused, reset, timed out): the batch may or may not be stored; its
        idempotency keys make the next attempt safe either way."""
        return self._again(f"{type(error).__name__}: {error}", None, None)

    def _again(self, what: str, status: int | None, retry_after: float | None) -> Wait:
        self.failures += 1
        wait = self._policy.delay(self.failures, retry_after)
        elapsed = self._clock() - self._started
        if self.failures >= self._policy.attempts or elapsed + wait > self._policy.deadline:
            raise PublishUnavailable(
                f"gave up after {self.failures} attempts in {elapsed:.1f}s; last: {what}",
                attempts=self.failures,
                last_status=status,
                published=self._published,
            )
        return Wait(wait)

    def _refusal(self, status: int, body: dict[str, Any]) -> PublishRefused:
        error = str(body.get("error") or f"http_{status}")
        detail = body.get("detail")
        problems = tuple(
            FieldProblem(self._renumber(str(item.get("field", ""))), str(item.get("message", "")))
            for item in (detail if isinstance(detail, list) else [])
            if isinstance(item, dict)
        )
        kind = {401: Unauthorized, 403: Unauthorized, 413: PayloadTooLarge, 422: InvalidNotification}.get(status, PublishRefused)
        return kind(status, error, problems, detail if not problems else None, published=self._published)

    def _renumber(self, field: str) -> str:
        """`notifications[3].event` of the second batch of 1000 → `notifications[1003].event`."""
        return _ITEM.sub(lambda m: f"notifications[{int(m.group(1)) + self._offset}]", field)


def _json(body: bytes) -> dict[str, Any]:
    import json

    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
