"""How flagstream connects to one Redis: a bounded pool whose commands wait for a connection."""

from __future__ import annotations

import redis.asyncio as aioredis

POOL_SIZE = 100  # connections to Redis at most; further commands wait for one
POOL_WAIT = 2.0  # seconds a command waits for a pooled connection before it fails


def pooled_client(url: str, *, socket_timeout: float, socket_connect_timeout: float) -> aioredis.Redis:
    """A client whose commands wait for a free connection when all are busy.

    redis-py's default pool fails the command at once instead ("Too many connections"; redis-py
    8 caps that pool at 100): a burst of a thousand connects then failed most of its Redis calls.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
