"""The scaled broker: Redis streams for history and replay, pub/sub for fan-out.

Each user has a stream ``<prefix>h:<user>`` and a channel ``<prefix>c:<user>``; broadcasts
share ``<prefix>b`` and ``<prefix>cb``. An instance subscribes only to the channels of
users it holds streams for. Appending to history and publishing happen in one Lua
script, so a subscriber can never see an event that is not yet in history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..types import EventId, HistoryPage, LeaseResult, Notification, PublishRefused, StoredEvent
from . import redis_scripts
from .base import Accepted, BrokerListeners
from .retention import Retention

log = logging.getLogger(__name__)


class RedisBroker:
    name = "redis"

    def __init__(self, url: str, prefix: str, history_size: int, history_ttl: float, lease_ttl: float) -> None:
        self._url = url
        self._p = prefix
        self._retention = Retention(history_size, history_ttl)
        self._lease_ms = int(lease_ttl * 1000)
        self._redis = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)
        self._append = self._redis.register_script(redis_scripts.APPEND)
        self._acquire = self._redis.register_script(redis_scripts.ACQUIRE_LEASE)
        self._renew = self._redis.register_script(redis_scripts.RENEW_LEASES)
        self._subscriptions = _Subscriptions(self)
        self._listeners: BrokerListeners | None = None

    @property
    def control_channel(self) -> str:
        return self._p + "ctl"

    async def start(self, listeners: BrokerListeners) -> None:
        self._listeners = listeners
        await self._subscriptions.start()

    async def close(self) -> None:
        await self._subscriptions.stop()
        await self._redis.aclose()

    async def append(self, publisher: str, notifications: Sequence[Notification]) -> Accepted:
        items = [
            {
                "u": list(n.user_ids),
                "e": n.event,
                "d": n.data_json,
                "k": f"{publisher}:{n.idempotency_key}" if n.idempotency_key else None,
                "x": n.trace,
                "c": repr(time.time()),
            }
            for n in notifications
        ]
        try:
            raw = await self._append(args=[self._p, self._retention.size, int(self._retention.ttl * 1000), json.dumps(items)])
        except RedisError as exc:
            raise PublishRefused(f"redis: {exc}") from exc
        ids: list[list[str]] = []
        events: list[StoredEvent] = []
        duplicates = 0
        for n, item, result in zip(notifications, items, json.loads(raw)):
            if "dup" in result:
                ids.append(result["dup"])
                duplicates += 1
                continue
            these = result["ids"] or []
            ids.append(these)
            for user_id, id_text in zip(n.user_ids or (None,), these):
                events.append(StoredEvent(EventId.parse(id_text), user_id, n.event, n.data_json, float(item["c"]), n.trace))
        return Accepted(ids, events, duplicates)

    async def history(self, user_id: str, after: EventId | None, limit: int) -> HistoryPage:
        keys = (self._p + "h:" + user_id, self._p + "b")
        start = f"({after}" if after else "-"
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.xrange(key, min=start, count=limit)
            pipe.get(self._p + "seq")
            pipe.get(self._p + "lastms")
            for key in keys:
                pipe.get(key + ":trimmed")
            results = await pipe.execute()
        reset = False
        if after is not None:
            now_ms = max(int(time.time() * 1000), int(results[3] or 0))
            trimmed = (int(results[4] or 0), int(results[5] or 0))
            reset = self._retention.lost(after, now_ms, trimmed, int(results[2] or 0))
        merged = [self._from_entry(entry, user_id) for entry in results[0]]
        merged += [self._from_entry(entry, None) for entry in results[1]]
        merged.sort(key=lambda e: e.seq)
        return HistoryPage(merged[:limit], reset)

    @staticmethod
    def _from_entry(entry: tuple[str, dict[str, str]], user_id: str | None) -> StoredEvent:
        id_text, fields = entry
        trace = json.loads(fields["x"]) if fields.get("x") else None
        return StoredEvent(EventId.parse(id_text), user_id, fields["e"], fields["d"], float(fields["c"]), trace)

    def event_from_message(self, raw: str) -> StoredEvent:
        m = json.loads(raw)
        user_id = m["u"] if isinstance(m["u"], str) else None
        trace = json.loads(m["x"]) if m.get("x") else None
        return StoredEvent(EventId.parse(m["i"]), user_id, m["e"], m["d"], float(m["c"]), trace)

    async def position(self) -> EventId:
        try:
            last_ms, seq = await self._redis.mget(self._p + "lastms", self._p + "seq")
        except RedisError as exc:
            raise PublishRefused(f"redis: {exc}") from exc
        return EventId(int(last_ms or 0), int(seq or 0))

    async def subscribe(self, user_id: str) -> None:
        await self._subscriptions.add(self._p + "c:" + user_id)

    async def unsubscribe(self, user_id: str) -> None:
        await self._subscriptions.remove(self._p + "c:" + user_id)

    async def acquire_lease(self, user_id: str, connection_id: str, limit: int, evict_oldest: bool) -> LeaseResult:
        now = int(time.time() * 1000)
        result = await self._acquire(
            keys=[self._p + "lease:" + user_id],
            args=[now, now + self._lease_ms, connection_id, limit, "1" if evict_oldest else "0"],
        )
        return LeaseResult(bool(int(result[0])), tuple(result[1:]))

    async def release_lease(self, user_id: str, connection_id: str) -> None:
        await self._redis.zrem(self._p + "lease:" + user_id, connection_id)

    async def renew_leases(self, leases: Sequence[tuple[str, str]]) -> None:
        by_user: dict[str, list[str]] = {}
        for user_id, connection_id in leases:
            by_user.setdefault(user_id, []).append(connection_id)
        expiry = int(time.time() * 1000) + self._lease_ms
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, connections in by_user.items():
                self._renew(keys=[self._p + "lease:" + user_id], args=[expiry, *connections], client=pipe)
            await pipe.execute()

    async def evict(self, user_id: str, connection_id: str) -> None:
        await self._redis.publish(self.control_channel, json.dumps({"evict": [user_id, connection_id]}))

    async def check(self) -> str | None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            return f"redis unreachable: {exc}"
        return self._subscriptions.problem

    # called by _Subscriptions
    def dispatch(self, channel: str, data: str) -> None:
        listeners = self._listeners
        if listeners is None:
            return
        if channel == self.control_channel:
            user_id, connection_id = json.loads(data)["evict"]
            listeners.on_evict(user_id, connection_id)
        else:
            listeners.on_event(self.event_from_message(data))

    def fanout_lost(self) -> None:
        if self._listeners is not None:
            self._listeners.on_fanout_lost()

    def pubsub(self) -> aioredis.client.PubSub:
        return self._redis.pubsub(ignore_subscribe_messages=False)

    @property
    def base_channels(self) -> tuple[str, ...]:
        return (self._p + "cb", self.control_channel)


class _Subscriptions:
    """One pub/sub connection, its reader task, and reconnection after Redis goes away.

    `add` waits for Redis to confirm the subscription, so a stream never reads history
    before its live subscription is in place (that is what makes replay gap-free).
    """

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        self._channels: dict[str, int] = {}
        self._pending: dict[str, asyncio.Future[None]] = {}   # done once Redis confirmed
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.problem: str | None = "not connected"

    async def start(self) -> None:
        """Connect if Redis answers; if not, keep trying in the background (not ready meanwhile)."""
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
        await self._pubsub.subscribe(*self._broker.base_channels, *self._channels)
        self._connected.set()
        self.problem = None

    async def add(self, channel: str) -> None:
        """Count one more stream on `channel`; return once Redis confirmed the subscription."""
        self._channels[channel] = self._channels.get(channel, 0) + 1
        confirmed = self._pending.get(channel)
        try:
            if confirmed is None:
                confirmed = asyncio.get_running_loop().create_future()
                self._pending[channel] = confirmed
                assert self._pubsub is not None
                await self._pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=5)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            await self.remove(channel)
            raise PublishRefused(f"redis subscribe failed: {exc!r}") from exc

    async def remove(self, channel: str) -> None:
        count = self._channels.get(channel, 0) - 1
        if count > 0:
            self._channels[channel] = count
            return
        self._channels.pop(channel, None)
        self._pending.pop(channel, None)
        if self._pubsub is not None and self.problem is None:
            try:
                await self._pubsub.unsubscribe(channel)
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
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=1.0)
                delay = 0.1
            except (RedisError, OSError) as exc:
                self._lost(exc)
                continue
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                try:
                    self._broker.dispatch(message["channel"], message["data"])
                except Exception:           # one bad message must not stop fan-out
                    log.exception("could not dispatch a message from %s", message["channel"])
            elif kind == "subscribe":
                confirmed = self._pending.get(message["channel"])
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)

    def _lost(self, exc: BaseException) -> None:
        if self.problem is None or self.problem == "not connected":
            log.warning("redis pub/sub unavailable (%s); reconnecting in the background", exc)
        self.problem = f"redis pub/sub disconnected: {exc}"
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
