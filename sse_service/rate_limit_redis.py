"""Token buckets in Redis, shared by every instance: one hash per bucket, updated by one
script (atomic), on Redis's clock (instances' clocks may differ)."""

from __future__ import annotations

import hashlib

from .rate_limit import ALLOWED, RateDecision, TokenBucket
from .redis_client import pooled_client

# KEYS[1] the bucket; ARGV rate (tokens/s), burst, cost. Returns {allowed, wait_ms}.
TAKE = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


def bucket_key(prefix: str, bucket: str) -> str:
    """`<prefix>{rl:<digest>}`: any bucket name (any user id) gives a fixed-size key with no
    separator to collide on, in one cluster slot of its own."""
    digest = hashlib.blake2b(bucket.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{prefix}{{rl:{digest}}}"


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str) -> None:
        self._prefix = prefix
        self._redis = pooled_client(url, socket_timeout=2, socket_connect_timeout=1)
        self._take = self._redis.register_script(TAKE)

    async def take(self, bucket: str, rule: TokenBucket, cost: int = 1) -> RateDecision:
        allowed, wait_ms = await self._take(keys=[bucket_key(self._prefix, bucket)], args=[rule.rate, rule.burst, cost])
        return ALLOWED if int(allowed) else RateDecision(False, int(wait_ms) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()
