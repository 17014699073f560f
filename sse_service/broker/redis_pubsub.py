"""One pub/sub connection to a single Redis, its reader task, and reconnection.

`add` waits for Redis to confirm the subscription, so a stream never reads history
before its live subscription is in place (that is what makes replay gap-free).
Channels are mapped back to their user here, so messages need not carry user ids.

The connection is a plain RESP2 connection of redis-py that only subscribes and reads
(`PubSubConnection`), not redis-py's `PubSub`: that one read each message through a
retry wrapper, a timeout and a push handler that formatted every message for a debug log
(~10 µs per delivery), and could reconnect by itself. Ours never reconnects by itself:
a drop is a lost fan-out (`fanout_lost`), then every channel is subscribed again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .channel_counts import ChannelCounts
from .redis_url import masked

if TYPE_CHECKING:
    from .redis import RedisBroker

log = logging.getLogger(__name__)
CONFIRM_TIMEOUT = 5.0


class PubSubConnection:
    """One connection made like `client`'s own (address, TLS, credentials) that speaks RESP2,
    where a pub/sub message is a plain reply `[kind, channel, data]`, and never reconnects or
    times out a read by itself (a read waits for the next message however long).

    Callers that send at once share one connect; once connected and then dropped, a send
    fails instead of connecting again (a new socket would hold only that one channel)."""

    def __init__(self, client: aioredis.Redis) -> None:
        pool = client.connection_pool
        kwargs = {k: v for k, v in pool.connection_kwargs.items() if not k.startswith("maint_notifications")}
        # TCP keepalive: a read that waits for ever must still learn of a peer gone silently.
        kwargs.update(protocol=2, socket_timeout=None, socket_keepalive=True, retry=Retry(NoBackoff(), 0))
        self._connection: Any = pool.connection_class(**kwargs)
        self._connecting: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        attempt = self._connecting
        if attempt is None or (attempt.done() and (attempt.cancelled() or attempt.exception() is not None)):
            attempt = self._connecting = asyncio.ensure_future(self._connection.connect())
        await asyncio.shield(attempt)

    async def send(self, *command: str) -> None:
        await self.connect()
        if not self._connection.is_connected:
            raise ConnectionError("pub/sub connection lost")
        await self._connection.send_command(*command)

    async def read(self) -> list[Any]:
        """The next message or confirmation; raises when the connection is gone."""
        reply: list[Any] = await self._connection.read_response()
        return reply

    async def close(self) -> None:
        await self._connection.disconnect()


class Subscriptions(ChannelCounts):
    subscribe_command = "SUBSCRIBE"
    unsubscribe_command = "UNSUBSCRIBE"
    message_kind = "message"
    confirm_kind = "subscribe"

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        super().__init__()
        self._connection: PubSubConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._to_subscribe: list[str] = []  # asked while a SUBSCRIBE was on its way: sent together next
        self._subscriber: asyncio.Task[None] | None = None
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
        for task in (self._reader, self._subscriber):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def _connect(self) -> None:
        """A new connection subscribed to every channel held; ready once Redis confirmed them all."""
        connection = PubSubConnection(self._broker.client)
        try:
            await connection.connect()
            channels = list(self._users)
            await connection.send(self.subscribe_command, *channels)
            self._connection = connection
            subscribed = 0
            while subscribed < len(channels):  # messages may come between the confirmations
                message = await asyncio.wait_for(connection.read(), CONFIRM_TIMEOUT)
                if message[0] == self.confirm_kind:
                    subscribed = int(message[2])
                self.handle(message)
        except BaseException:
            await connection.close()
            raise
        self.problem = None

    async def _confirm(self, channel: str) -> None:
        confirmed = self._pending.get(channel)
        if confirmed is None:
            confirmed = asyncio.get_running_loop().create_future()
            self._pending[channel] = confirmed
            if self._connection is None or self.problem is not None:
                raise ConnectionError("no pub/sub connection")
            self._to_subscribe.append(channel)
            if self._subscriber is None:
                self._subscriber = asyncio.create_task(self._subscribe_queued(), name="redis-pubsub-subscribe")
        await asyncio.wait_for(asyncio.shield(confirmed), timeout=CONFIRM_TIMEOUT)

    async def _subscribe_queued(self) -> None:
        """One SUBSCRIBE for every channel asked meanwhile (a burst of connects sent one command
        each, ~50 µs of redis-py apiece); Redis confirms each channel on its own."""
        try:
            while self._to_subscribe:
                channels = [c for c in self._to_subscribe if c in self._pending]  # not given up meanwhile
                self._to_subscribe = []
                try:
                    if channels and self._connection is not None:
                        await asyncio.wait_for(self._connection.send(self.subscribe_command, *channels), CONFIRM_TIMEOUT)
                except (TimeoutError, RedisError, OSError) as exc:
                    for channel in channels:
                        confirmed = self._pending.get(channel)
                        if confirmed is not None and not confirmed.done():
                            confirmed.set_exception(ConnectionError(f"subscribe failed: {exc!r}"))
        finally:
            self._subscriber = None

    async def remove(self, channel: str) -> None:
        if not self._release(channel):
            return
        if self._connection is not None and self.problem is None:
            try:
                await self._connection.send(self.unsubscribe_command, channel)
            except (RedisError, OSError):
                pass

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            if self.problem is not None or self._connection is None:
                await self._reconnect(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                message = await self._connection.read()
                delay = 0.1
            except (RedisError, OSError) as exc:
                self._lost(exc)
                continue
            self.handle(message)

    def handle(self, message: list[Any]) -> None:
        """One RESP2 pub/sub reply: `[kind, channel, data or count]`."""
        kind, channel = message[0], message[1]
        if kind == self.message_kind:
            if channel not in self._users:
                return
            try:
                self._broker.dispatch(self._users[channel], message[2])
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
            if self._connection is not None:
                await self._connection.close()
            await self._connect()
        except (RedisError, OSError):
            return
        log.warning("redis pub/sub reconnected")
