"""Token buckets: the memory limiter on a fake clock, the Redis one on real Redis."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import redis

from sse_service.rate_limit import MemoryRateLimiter, RateDecision, RateLimits, TokenBucket
from sse_service.rate_limit_redis import RedisRateLimiter, bucket_key
from sse_service.redis_client import POOL_SIZE
from tests.support.redis_server import delete_prefix, new_prefix

RULE = TokenBucket(rate=2.0, burst=3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_full_bucket_allows_the_burst_then_refuses_with_the_wait_until_one_token_is_back() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert [(await limiter.take("p", RULE)).allowed for _ in range(4)] == [True, True, True, False]
    refused = await limiter.take("p", RULE)
    assert refused.retry_after == pytest.approx(0.5) and refused.retry_after_seconds == 1
    clock.now += 0.5
    assert (await limiter.take("p", RULE)).allowed
    assert not (await limiter.take("p", RULE)).allowed
    assert (await limiter.take("other", RULE)).allowed  # buckets are independent


async def test_refills_never_exceed_the_burst() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    await limiter.take("p", RULE)
    clock.now += 3600
    assert [(await limiter.take("p", RULE)).allowed for _ in range(4)] == [True, True, True, False]


async def test_full_buckets_are_forgotten_so_many_names_do_not_grow_memory() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    for i in range(5000):
        await limiter.take(f"user-{i}", RULE)
        clock.now += 1.0  # every earlier bucket is full again
    assert len(limiter) <= 2048


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert RateDecision(False, 0.01).retry_after_seconds == 1
    assert RateDecision(False, 2.2).retry_after_seconds == 3


async def test_a_failing_limiter_lets_requests_through_and_reports_the_error() -> None:
    class Broken:
        async def take(self, bucket: str, rule: TokenBucket, cost: int = 1) -> RateDecision:
            raise ConnectionError("redis down")

        async def close(self) -> None:
            pass

    errors: list[int] = []
    limits = RateLimits(Broken(), publish=RULE, on_error=lambda: errors.append(1))
    assert (await limits.allow_publish("p")).allowed and errors == [1]


async def test_a_rule_of_none_turns_that_limit_off() -> None:
    limits = RateLimits(MemoryRateLimiter(), publish=None, stream=TokenBucket(1, 1))
    assert all([(await limits.allow_publish("p")).allowed for _ in range(100)])
    assert (await limits.allow_stream("u")).allowed and not (await limits.allow_stream("u")).allowed


@pytest.mark.redis
async def test_redis_buckets_are_shared_atomic_and_keyed_by_a_digest_in_one_slot(redis_url: str) -> None:
    prefix = new_prefix()
    first, second = RedisRateLimiter(redis_url, prefix), RedisRateLimiter(redis_url, prefix)
    try:
        rule = TokenBucket(rate=0.5, burst=3)
        name = "stream\0al:ice{x}"
        results = [await (first if i % 2 else second).take(name, rule) for i in range(4)]
        assert [r.allowed for r in results] == [True, True, True, False]
        assert 1.0 < results[-1].retry_after <= 2.0
        digest = hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
        assert bucket_key(prefix, name) == f"{prefix}{{rl:{digest}}}"
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.exists(bucket_key(prefix, name))
            assert 0 < client.pttl(bucket_key(prefix, name)) <= 7000
        finally:
            client.close()
    finally:
        await first.close()
        await second.close()
        delete_prefix(redis_url, prefix)


@pytest.mark.redis
async def test_a_burst_of_more_takes_than_pooled_connections_waits_for_one_instead_of_failing(redis_url: str) -> None:
    # redis-py 8's pool refused the 101st concurrent command ("Too many connections"): a burst of
    # 1,024 connects let most through unlimited and counted sse_errors_total{stage=rate_limit}.
    prefix = new_prefix()
    limiter = RedisRateLimiter(redis_url, prefix)
    try:
        rule = TokenBucket(rate=2, burst=60)
        decisions = await asyncio.gather(*(limiter.take(f"stream\0user-{n}", rule) for n in range(4 * POOL_SIZE)))
        assert all(decision.allowed for decision in decisions)
    finally:
        await limiter.close()
        delete_prefix(redis_url, prefix)
