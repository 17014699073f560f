"""The scaled broker on one Redis: streams for history and replay, pub/sub for fan-out.

Keys are in `keys.py` (one hash tag per user). Appending to history, the idempotency
records and the fan-out publish happen in one Lua script per request, so a request is
all or nothing, and a subscriber never sees an event that is not yet in history.
An instance subscribes only to the channels of users it holds streams for, plus the
broadcast channel. Every Redis error becomes `BrokerUnavailable` with a generic
message; the details (credentials masked) go to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import STORE_UNAVAILABLE
from ..redis_client import pooled_client
from ..types import (
    ZERO,
    BrokerUnavailable,
    EventId,
    HistoryPage,
    IdempotencyConflict,
    LeaseResult,
    Notification,
    Offset,
    StreamPosition,
)
from . import redis_scripts
from .base import Accepted, BrokerListeners
from .cursors import StreamRead, read_history
from .keys import BROADCAST, check_user_ids, user_keys
from .memory import new_epoch
from .redis_batches import Coalesced
from .redis_plan import AppendCall, Target, event_from_entry, event_from_message, targets_of
from .redis_pubsub import Subscriptions
from .redis_url import masked

log = logging.getLogger(__name__)
# Anything but our own answers is a store failure: redis-py can surface a failover as a
# RedisError, an OSError, or (mid-reconnect) an AttributeError from its connection.
OURS = (IdempotencyConflict, BrokerUnavailable)
# Store calls in flight at once per process: under redis-py's pool of 100 connections (per
# node on a cluster), which refuses the 101st call instead of making it wait.
MAX_IN_FLIGHT = 64


class StoreFailures:
    """`with broker.failures("lease"): …`: any store error inside becomes `BrokerUnavailable`.

    The broker's one error contract (docs/broker.md): callers catch `BrokerUnavailable` and
    nothing else. The cause, credentials masked, goes to the log; the message is generic.
    """

    __slots__ = ("_url", "_what")

    def __init__(self, url: str, what: str) -> None:
        self._url = url
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, OURS) or not isinstance(exc, Exception):
            return False
        log.warning("redis %s failed (%s): %s", self._what, masked(self._url), masked(str(exc)))
        raise BrokerUnavailable(STORE_UNAVAILABLE) from exc


class RedisBroker:
    name = "redis"
    publish_command = "PUBLISH"

    def __init__(self, url: str, prefix: str, history_size: int, history_ttl: float, lease_ttl: float) -> None:
        self._url = url
        self._p = prefix
        self._size = history_size
        self._ttl_ms = int(history_ttl * 1000)
        self._lease_ms = int(lease_ttl * 1000)
        self._redis = self._client(url)
        self._scripts = {
            name: self._redis.register_script(getattr(redis_scripts, name))
            for name in ("APPEND", "READ", "ACQUIRE_LEASE", "RENEW_LEASES")
        }
        self._subscriptions = self._new_subscriptions()
        self._listeners: BrokerListeners | None = None
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        # On one Redis every key is in one place: the positions and leases of connects that
        # come together share a script call (on a cluster their keys are in different slots).
        self._coalesces = self.name == "redis"
        self._positions: Coalesced[str, EventId] = Coalesced(self._positions_of)
        self._leases: Coalesced[tuple[str, str, int, bool], LeaseResult] = Coalesced(self._leases_of)

    def _client(self, url: str) -> Any:
        return pooled_client(url, socket_timeout=5, socket_connect_timeout=2)

    def _new_subscriptions(self) -> Any:
        return Subscriptions(self)

    @property
    def broadcast_channel(self) -> str:
        return BROADCAST.channel(self._p)

    async def start(self, listeners: BrokerListeners) -> None:
        self._listeners = listeners
        await self._subscriptions.start()

    async def close(self) -> None:
        await self._positions.close()
        await self._leases.close()
        await self._subscriptions.stop()
        await self._redis.aclose()

    def failures(self, what: str) -> StoreFailures:
        return StoreFailures(self._url, what)

    @contextlib.asynccontextmanager
    async def store_call(self, what: str) -> AsyncIterator[None]:
        """One call to the store: it waits for one of `MAX_IN_FLIGHT` slots (a burst of
        connects queues instead of failing with redis-py's "Too many connections"), and any
        store error inside becomes `BrokerUnavailable`."""
        async with self._in_flight:
            with self.failures(what):
                yield

    # -- publishing -------------------------------------------------------------------
    async def append(self, publisher: str, notifications: Sequence[Notification]) -> Accepted:
        check_user_ids(list(notifications))
        ids: list[list[str]] = [[""] * len(n.user_ids or (None,)) for n in notifications]
        events = []
        async with self.store_call("append"):
            results = await self._append_targets(publisher, notifications, targets_of(notifications))
        fresh = set()
        for target, event_id, event in results:
            ids[target.index][target.slot] = event_id
            if event is not None:
                events.append(event)
                fresh.add(target.index)
        return Accepted(ids, events, len(notifications) - len(fresh))

    async def _append_targets(
        self, publisher: str, notifications: Sequence[Notification], targets: list[Target]
    ) -> list[tuple[Target, str, Any]]:
        """One script call for the whole request: all or nothing."""
        call = AppendCall(
            self._p,
            publisher,
            notifications,
            targets,
            read_broadcast=True,
            broadcast_position="",
            publish_command=self.publish_command,
        )
        return await self._run_append(call, self._redis)

    async def _run_append(self, call: AppendCall, client: Any) -> list[tuple[Target, str, Any]]:
        raw = await self._scripts["APPEND"](keys=call.keys, args=[self._size, self._ttl_ms, call.plan], client=client)
        answer = msgspec.json.decode(raw)
        if "conflict" in answer:
            raise IdempotencyConflict(call.targets[answer["conflict"]][0].index)
        return call.results(answer)

    # -- reading ----------------------------------------------------------------------
    async def history(self, user_id: str, after: EventId | None, limit: int) -> HistoryPage:
        async def read(user_after: StreamPosition, broadcast_after: StreamPosition, count: int) -> tuple[StreamRead, StreamRead]:
            return await self._read_both(user_id, user_after, broadcast_after, count)

        async with self.store_call("history"):
            return await read_history(read, after, limit)

    async def position(self, user_id: str) -> EventId:
        if self._coalesces:
            return await self._positions.ask(user_id)
        nowhere = StreamPosition("", ZERO)
        async with self.store_call("position"):
            user, broadcast = await self._read_both(user_id, nowhere, nowhere, 0)
        return EventId(user.position, broadcast.position)

    async def _positions_of(self, users: list[str]) -> list[EventId | BaseException]:
        """Where each user's stream stands, and the broadcast stream once: one READ call."""
        nowhere = StreamPosition("", ZERO)
        async with self.store_call("position"):
            raw = await self._read_streams(self._redis, [(BROADCAST, nowhere), *((user_keys(u), nowhere) for u in users)], 0)
            broadcast = _stream_read(raw[0], None).position
        return [
            EventId(_stream_read(r, u).position, broadcast) if r else self._foreign("position") for r, u in zip(raw[1:], users)
        ]

    async def _read_both(
        self, user_id: str, user_after: StreamPosition, broadcast_after: StreamPosition, count: int
    ) -> tuple[StreamRead, StreamRead]:
        """One call reads both streams (a pipeline of two script calls also sent SCRIPT EXISTS
        first, every time: two round trips per connect)."""
        raw_user, raw_broadcast = await self._read_streams(
            self._redis, [(user_keys(user_id), user_after), (BROADCAST, broadcast_after)], count
        )
        return _stream_read(raw_user, user_id), _stream_read(raw_broadcast, None)

    async def _read_call(self, client: Any, keys: Any, after: StreamPosition, count: int) -> Any:
        """One stream's read (the cluster's: a user's stream and the broadcast one are in two slots)."""
        (raw,) = await self._read_streams(client, [(keys, after)], count)
        return raw

    async def _read_streams(self, client: Any, streams: Sequence[tuple[Any, StreamPosition]], count: int) -> Any:
        keys: list[str] = []
        args: list[object] = [self._ttl_ms, count]
        for stream, after in streams:
            keys += [stream.history(self._p), stream.meta(self._p)]
            args += [new_epoch(), after.epoch, str(after.offset)]
        return await self._scripts["READ"](keys=keys, args=args, client=client)

    # -- fan-out ----------------------------------------------------------------------
    async def subscribe(self, user_id: str) -> None:
        with self.failures("subscribe"):
            await self._subscriptions.add(user_keys(user_id).channel(self._p), user_id)

    async def unsubscribe(self, user_id: str) -> None:
        """Never raises: a store that is gone has dropped the subscription anyway."""
        try:
            await self._subscriptions.remove(user_keys(user_id).channel(self._p))
        except Exception as exc:  # noqa: BLE001 — cleanup after a stream; the log says why
            log.debug("redis unsubscribe failed: %s", masked(str(exc)))

    def dispatch(self, user_id: str | None, data: str) -> None:
        """A message on a user's channel (an event or an eviction) or the broadcast one."""
        listeners = self._listeners
        if listeners is None:
            return
        if user_id is not None and data.startswith('{"evict"'):
            listeners.on_evict(user_id, json.loads(data)["evict"])
        else:
            listeners.on_event(event_from_message(data, user_id))

    def fanout_lost(self) -> None:
        if self._listeners is not None:
            self._listeners.on_fanout_lost()

    # -- leases -----------------------------------------------------------------------
    async def acquire_lease(self, user_id: str, connection_id: str, limit: int, evict_oldest: bool) -> LeaseResult:
        ask = (user_id, connection_id, limit, evict_oldest)
        if self._coalesces:
            return await self._leases.ask(ask)
        (result,) = await self._leases_of([ask])
        if isinstance(result, BaseException):
            raise result
        return result

    async def _leases_of(self, asks: list[tuple[str, str, int, bool]]) -> list[LeaseResult | BaseException]:
        now = int(time.time() * 1000)
        args: list[object] = [now, now + self._lease_ms]
        for _, connection_id, limit, evict_oldest in asks:
            args += [connection_id, limit, "1" if evict_oldest else "0"]
        async with self.store_call("lease"):
            results = await self._scripts["ACQUIRE_LEASE"](keys=[user_keys(a[0]).leases(self._p) for a in asks], args=args)
        return [self._foreign("lease") if int(r[0]) < 0 else LeaseResult(bool(int(r[0])), tuple(r[1:])) for r in results]

    def _foreign(self, what: str) -> BrokerUnavailable:
        """A key of another type where one of ours should be: that call fails, its batch goes on."""
        log.warning("redis %s failed (%s): a key has another type than ours", what, masked(self._url))
        return BrokerUnavailable(STORE_UNAVAILABLE)

    async def release_lease(self, user_id: str, connection_id: str) -> None:
        async with self.store_call("lease release"):
            await self._redis.zrem(user_keys(user_id).leases(self._p), connection_id)

    async def renew_leases(self, leases: Sequence[tuple[str, str]]) -> None:
        async with self.store_call("lease renewal"):
            await self._renew(leases, int(time.time() * 1000) + self._lease_ms)

    async def _renew(self, leases: Sequence[tuple[str, str]], expiry: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, connections in _by_user(leases, self._p).items():
                await self._scripts["RENEW_LEASES"](keys=[key], args=[expiry, *connections], client=pipe)
            await pipe.execute()

    async def evict(self, user_id: str, connection_id: str) -> None:
        async with self.store_call("evict"):
            await self._send_evict(user_keys(user_id).channel(self._p), json.dumps({"evict": connection_id}))

    async def _send_evict(self, channel: str, message: str) -> None:
        await self._redis.execute_command(self.publish_command, channel, message)

    async def check(self) -> str | None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            log.warning("redis ping failed (%s): %s", masked(self._url), masked(str(exc)))
            return "redis unreachable"
        problem: str | None = self._subscriptions.problem
        return problem

    @property
    def client(self) -> aioredis.Redis:
        """The command client: the pub/sub connection is made like its own (redis_pubsub.py)."""
        client: aioredis.Redis = self._redis
        return client


def _by_user(leases: Sequence[tuple[str, str]], prefix: str) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for user_id, connection_id in leases:
        by_key.setdefault(user_keys(user_id).leases(prefix), []).append(connection_id)
    return by_key


def _stream_read(raw: list[Any], user_id: str | None) -> StreamRead:
    if not raw:  # READ's answer for a stream whose keys have another type
        raise RedisError("FLAGSTREAM wrong key type")
    epoch, last, trimmed, from_start, entries = raw
    return StreamRead(
        epoch,
        Offset.parse(last),
        Offset.parse(trimmed),
        [event_from_entry(entry, user_id, epoch) for entry in entries],
        bool(int(from_start)),
    )
