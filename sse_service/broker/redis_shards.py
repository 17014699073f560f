"""Sharded pub/sub on Redis Cluster: one connection per master holding our channels.

A channel is subscribed (`SSUBSCRIBE`) on the master that owns its slot. When a
connection fails (a master died) or Redis unsubscribes us (its slot moved), fan-out may
have missed events: every stream is told to reconnect and replay (`fanout_lost`), and a
background task refreshes the slot map and subscribes every channel on its current
owner. Until that is done `problem` is set (the instance reports not ready).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .channel_counts import STORE_ERRORS, ChannelCounts
from .redis_pubsub import CONFIRM_TIMEOUT, PubSubConnection
from .redis_url import masked

if TYPE_CHECKING:
    from .redis_cluster import RedisClusterBroker

log = logging.getLogger(__name__)
CHECK_OWNERS_EVERY = 5.0  # seconds: compare each subscription's node with the slot map


class _Shard:
    def __init__(self, name: str, pubsub: PubSubConnection) -> None:
        self.name = name
        self.pubsub = pubsub
        self.channels: set[str] = set()
        self.reader: asyncio.Task[None] | None = None


class ShardedSubscriptions(ChannelCounts):
    def __init__(self, broker: RedisClusterBroker) -> None:
        self._broker = broker
        super().__init__()
        self._shards: dict[str, _Shard] = {}
        self._owner: dict[str, str] = {}  # channel → shard name
        self._lost = asyncio.Event()
        self._resync: asyncio.Task[None] | None = None
        self.problem: str | None = "not connected"

    async def start(self) -> None:
        channel = self._broker.broadcast_channel
        self._users[channel], self._counts[channel] = None, 1
        self._resync = asyncio.create_task(self._resync_forever(), name="redis-shard-resync")
        try:
            await self._subscribe(channel)
            self.problem = None
        except STORE_ERRORS as exc:
            self._mark_lost(exc)

    async def stop(self) -> None:
        tasks = [t for t in [self._resync, *(s.reader for s in self._shards.values())] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for shard in self._shards.values():
            await _quietly(shard.pubsub.close())

    async def _confirm(self, channel: str) -> None:
        if channel not in self._owner:
            await self._subscribe(channel)
        else:
            confirmed = self._pending.get(channel)
            if confirmed is not None:
                await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT)

    async def remove(self, channel: str) -> None:
        if not self._release(channel):
            return
        shard = self._shards.get(self._owner.pop(channel, ""))
        if shard is not None:
            shard.channels.discard(channel)
            await _quietly(shard.pubsub.send("SUNSUBSCRIBE", channel))

    async def _subscribe(self, channel: str) -> None:
        node = await self._broker.master_of(channel)
        shard = self._shards.get(node.name)
        if shard is None:
            shard = self._shards[node.name] = _Shard(node.name, PubSubConnection(self._broker.node_client(node)))
        confirmed = asyncio.get_running_loop().create_future()
        self._pending[channel] = confirmed
        self._owner[channel] = shard.name
        shard.channels.add(channel)
        try:
            await shard.pubsub.send("SSUBSCRIBE", channel)  # connects the shard's connection first
            if shard.reader is None:
                shard.reader = asyncio.create_task(self._read(shard), name=f"redis-shard-{shard.name}")
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT)
        except BaseException:
            if self._owner.get(channel) == shard.name:
                del self._owner[channel]
            shard.channels.discard(channel)
            raise

    async def _read(self, shard: _Shard) -> None:
        while True:
            try:
                kind, channel, data = await shard.pubsub.read()
            except STORE_ERRORS as exc:
                self._drop(shard)
                self._mark_lost(exc)
                return
            if kind == "smessage" and channel in self._users:
                try:
                    self._broker.dispatch(self._users[channel], data)
                except Exception:
                    log.exception("could not dispatch a sharded pub/sub message")
            elif kind == "ssubscribe":
                confirmed = self._pending.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif kind == "sunsubscribe" and channel in self._users and self._owner.get(channel) == shard.name:
                # Not asked for: the slot moved to another shard.
                self._owner.pop(channel, None)
                shard.channels.discard(channel)
                self._mark_lost(RuntimeError(f"slot of a channel moved away from {shard.name}"))

    def _drop(self, shard: _Shard) -> None:
        self._shards.pop(shard.name, None)
        for channel in shard.channels:
            if self._owner.get(channel) == shard.name:
                del self._owner[channel]
        asyncio.get_running_loop().create_task(_quietly(shard.pubsub.close()))

    def _mark_lost(self, exc: BaseException) -> None:
        if self.problem is None:
            log.warning("redis cluster pub/sub lost (%s); resubscribing on the current owners", masked(str(exc)))
        self.problem = "redis cluster pub/sub resubscribing"
        self._lost.set()
        self._broker.fanout_lost()

    async def _check_owners(self) -> None:
        """A subscription on a node that no longer owns the channel's slot (a failover or
        a migration nobody told us about) is moved, and streams resume from history."""
        try:
            await self._broker.refresh()
            current = {channel: (await self._broker.master_of(channel)).name for channel in self._owner}
        except STORE_ERRORS:
            return
        moved = [channel for channel, owner in self._owner.items() if current.get(channel, owner) != owner]
        for channel in moved:
            shard = self._shards.get(self._owner.pop(channel))
            if shard is not None:
                shard.channels.discard(channel)
                await _quietly(shard.pubsub.send("SUNSUBSCRIBE", channel))
        if moved:
            self._mark_lost(RuntimeError(f"{len(moved)} channel(s) found on a node that no longer owns their slot"))

    async def _resync_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), CHECK_OWNERS_EVERY)
            except TimeoutError:
                await self._check_owners()
                continue
            await asyncio.sleep(delay)
            self._lost.clear()
            try:
                await self._broker.refresh()
                for channel in [c for c in self._users if c not in self._owner]:
                    await self._subscribe(channel)
            except STORE_ERRORS as exc:
                log.info("redis cluster resubscription failed (%s); retrying", masked(str(exc)))
                for shard in list(self._shards.values()):
                    if shard.reader is not None and shard.reader.done():
                        self._drop(shard)
                self._lost.set()
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.1
            self.problem = None
            log.warning("redis cluster pub/sub resubscribed")


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        log.debug("pub/sub cleanup failed", exc_info=True)
