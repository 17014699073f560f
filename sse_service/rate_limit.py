"""Token buckets: how many publish requests a publisher, and how many stream attempts a
user, may make. One bucket per name, refilled continuously at `rate` tokens per second up
to `burst`. The memory limiter keeps buckets in this process; the Redis one
(:mod:`sse_service.rate_limit_redis`) shares them between every instance.

Example::

    limits = RateLimits(MemoryRateLimiter(), publish=TokenBucket(rate=500, burst=5000))
    decision = await limits.allow_publish("billing")
    if not decision.allowed:
        ...  # 429, Retry-After: decision.retry_after_seconds
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import error_body, retry_after

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up (a full bucket to start with)."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until enough tokens are back

    @property
    def retry_after_seconds(self) -> int:
        """For a `Retry-After` header: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after))


ALLOWED = RateDecision(True)


class RateLimiter(Protocol):
    async def take(self, bucket: str, rule: TokenBucket, cost: int = 1) -> RateDecision:
        """Take `cost` tokens from the bucket named `bucket`, or say how long to wait."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Buckets in a dict; full buckets are forgotten (a full bucket is no bucket)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, when)
        self._prune_at = 1024

    async def take(self, bucket: str, rule: TokenBucket, cost: int = 1) -> RateDecision:
        now = self._clock()
        tokens, then = self._buckets.get(bucket, (float(rule.burst), now))
        tokens = min(float(rule.burst), tokens + (now - then) * rule.rate)
        if tokens >= cost:
            self._buckets[bucket] = (tokens - cost, now)
            decision = ALLOWED
        else:
            self._buckets[bucket] = (tokens, now)
            decision = RateDecision(False, (cost - tokens) / rule.rate)
        if len(self._buckets) > self._prune_at:
            self._prune(now, rule)
        return decision

    def _prune(self, now: float, rule: TokenBucket) -> None:
        full = [name for name, (tokens, then) in self._buckets.items() if tokens + (now - then) * rule.rate >= rule.burst]
        for name in full:
            del self._buckets[name]
        self._prune_at = max(1024, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)

    async def close(self) -> None:
        self._buckets.clear()


class RateLimits:
    """The service's two kinds of bucket; a rule of None means that limit is off.

    A limiter that fails (Redis unreachable) lets the request through: the store the
    request needs next will refuse it on its own, and a limiter outage must not become
    an outage of the whole service."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        publish: TokenBucket | None = None,
        stream: TokenBucket | None = None,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self._limiter = limiter
        self.publish = publish
        self.stream = stream
        self._on_error = on_error

    @classmethod
    def disabled(cls) -> RateLimits:
        return cls(MemoryRateLimiter())

    async def allow_publish(self, publisher: str) -> RateDecision:
        return await self._take(self.publish, "publish\0" + publisher)

    async def allow_stream(self, user_id: str) -> RateDecision:
        return await self._take(self.stream, "stream\0" + user_id)

    async def _take(self, rule: TokenBucket | None, bucket: str) -> RateDecision:
        if rule is None:
            return ALLOWED
        try:
            return await self._limiter.take(bucket, rule)
        except Exception:
            self._on_error()
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return ALLOWED

    async def close(self) -> None:
        await self._limiter.close()


def bucket_rule(rate: float, burst: int) -> TokenBucket | None:
    """The rule for a `*_RATE`/`*_BURST` pair of settings; rate 0 turns the limit off."""
    return TokenBucket(rate, burst) if rate > 0 else None


def refusal(decision: RateDecision, what: str) -> tuple[dict[str, object], dict[str, str]]:
    """The 429's JSON body and headers: `Retry-After` computed from the bucket."""
    seconds = decision.retry_after_seconds
    body = error_body("rate_limited", f"too many {what}; retry after {seconds} s", retry_after=seconds)
    return body, retry_after(decision.retry_after)
