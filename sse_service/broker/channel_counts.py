"""How many streams of this instance listen on each pub/sub channel: shared by the Redis
pub/sub (`redis_pubsub.py`) and the sharded cluster pub/sub (`redis_shards.py`), which
subscribe on a channel's first stream and unsubscribe after its last."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from redis.exceptions import RedisClusterException, RedisError

from ..types import BrokerUnavailable
from .redis_url import masked

log = logging.getLogger(__name__)
# What a subscribe can fail with (RedisClusterException is not a RedisError).
STORE_ERRORS = (TimeoutError, RedisError, RedisClusterException, OSError)


class ChannelCounts(ABC):
    """Channel → how many streams hold it, whose user it carries, and its pending confirmation."""

    def __init__(self) -> None:
        self._users: dict[str, str | None] = {}  # channel → user (None: broadcasts)
        self._counts: dict[str, int] = {}
        self._pending: dict[str, asyncio.Future[None]] = {}  # done once Redis confirmed

    async def add(self, channel: str, user_id: str | None) -> None:
        """Count one more stream on `channel`; return once Redis confirmed its subscription.
        One that raises or is cancelled holds nothing: only a returned `add` is `remove`d."""
        self._hold(channel, user_id)
        try:
            await self._confirm(channel)
        except STORE_ERRORS as exc:
            await self.remove(channel)
            log.warning("redis subscribe failed: %s", masked(repr(exc)))
            raise BrokerUnavailable("subscription failed") from exc
        except asyncio.CancelledError:
            await self.remove(channel)
            raise

    @abstractmethod
    async def _confirm(self, channel: str) -> None:
        """Subscribe on `channel`'s first stream, and wait for Redis to confirm it."""

    @abstractmethod
    async def remove(self, channel: str) -> None:
        """One stream fewer on `channel`; unsubscribe after its last."""

    def _hold(self, channel: str, user_id: str | None) -> None:
        """One more stream on ``channel``."""
        self._counts[channel] = self._counts.get(channel, 0) + 1
        self._users[channel] = user_id

    def _release(self, channel: str) -> bool:
        """One stream fewer on ``channel``; True when it was the last (the channel is forgotten)."""
        count = self._counts.get(channel, 0) - 1
        if count > 0:
            self._counts[channel] = count
            return False
        self._counts.pop(channel, None)
        self._users.pop(channel, None)
        self._pending.pop(channel, None)
        return True
