"""One pub/sub connection to a single Redis, its reader task, and reconnection.

`add` waits for Redis to confirm the subscription, so a stream never reads history
before its live subscription is in place (that is what makes replay gap-free).
Channels are mapped back to their user here, so messages need not carry user ids.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ..types import BrokerUnavailable
from .channel_counts import ChannelCounts
from .redis_url import masked

if TYPE_CHECKING:
    from .redis import RedisBroker

log = logging.getLogger(__name__)
CONFIRM_TIMEOUT = 5.0


class Subscriptions(ChannelCounts):
    subscribe_command = "subscribe"
    unsubscribe_command = "unsubscribe"
    message_kind = "message"
    confirm_kind = "subscribe"

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        super().__init__()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.problem: str | None = "not connected"

    async def start(self) -> None:
        """Connect if Redis answers; if not, keep trying in the background (not ready meanwhile)."""
        self._users[self._broker.broadcast_channel] = None
        self._counts[self._broker.broadcast_channel] = 1
        try:
            await self._connect()
        except (RedisError, OSError) as exc:
            self._lost(exc)
        self._reader = asyncio.create_task(self._read_forever(), name="redis-pubsub-reader")

    async def stop(self) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def _connect(self) -> None:
        self._pubsub = self._broker.pubsub()
        await getattr(self._pubsub, self.subscribe_command)(*self._users)
        self.problem = None

    async def add(self, channel: str, user_id: str | None) -> None:
        """Count one more stream on `channel`; return once Redis confirmed the subscription."""
        self._hold(channel, user_id)
        confirmed = self._pending.get(channel)
        try:
            if confirmed is None:
                confirmed = asyncio.get_running_loop().create_future()
                self._pending[channel] = confirmed
                if self._pubsub is None:
                    raise ConnectionError("no pub/sub connection")
                await getattr(self._pubsub, self.subscribe_command)(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=CONFIRM_TIMEOUT)
        except (TimeoutError, RedisError, OSError) as exc:
            await self.remove(channel)
            log.warning("redis subscribe failed: %s", masked(repr(exc)))
            raise BrokerUnavailable("subscription failed") from exc

    async def remove(self, channel: str) -> None:
        if not self._release(channel):
            return
        if self._pubsub is not None and self.problem is None:
            try:
                await getattr(self._pubsub, self.unsubscribe_command)(channel)
            except RedisError:
                pass

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            if self.problem is not None:
                await self._reconnect(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                delay = 0.1
            except (RedisError, OSError) as exc:
                self._lost(exc)
                continue
            if message is not None:
                self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == self.message_kind:
            if channel not in self._users:
                return
            try:
                self._broker.dispatch(self._users[channel], message["data"])
            except Exception:  # one bad message must not stop fan-out
                log.exception("could not dispatch a pub/sub message")
        elif kind == self.confirm_kind:
            confirmed = self._pending.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)

    def _lost(self, exc: BaseException) -> None:
        if self.problem is None or self.problem == "not connected":
            log.warning("redis pub/sub unavailable (%s); reconnecting in the background", masked(str(exc)))
        self.problem = "redis pub/sub disconnected"
        self._broker.fanout_lost()

    async def _reconnect(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            if self._pubsub is not None:
                await self._pubsub.aclose()
            await self._connect()
        except (RedisError, OSError):
            return
        log.warning("redis pub/sub reconnected")
