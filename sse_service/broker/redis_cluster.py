"""The broker on Redis Cluster: the Redis broker's model, one slot per script call.

Every key of a user is under one hash tag, so one user's history, meta, leases and
idempotency records live in one slot. A publish runs one APPEND call per slot (so it is
all-or-nothing per slot; a multi-slot request is retry-safe through idempotency keys),
calls for one master run on one connection, and the publish is acknowledged only once
`WAIT` says the writes reached `wait_replicas` replicas — a master that dies after a 202
loses nothing. Fan-out uses sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`), so a publish
touches one shard; `redis_shards.ShardedSubscriptions` resubscribes when slots move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import STORE_UNAVAILABLE
from ..types import ZERO as _ZERO
from ..types import BrokerUnavailable, Notification, StreamPosition
from .cursors import StreamRead
from .keys import BROADCAST, user_keys
from .redis import RedisBroker, _by_user, _stream_read
from .redis_plan import AppendCall, Target
from .redis_shards import ShardedSubscriptions
from .redis_url import masked

log = logging.getLogger(__name__)
CALL_TARGETS = 100  # recipients per script call: bounds how long one call blocks a shard
ROUTING_ATTEMPTS = 6  # a moved slot or a failover in progress: refresh the map and retry


class RedisClusterBroker(RedisBroker):
    name = "redis-cluster"
    publish_command = "SPUBLISH"

    def __init__(
        self,
        url: str,
        prefix: str,
        history_size: int,
        history_ttl: float,
        lease_ttl: float,
        *,
        wait_replicas: int = 1,
        wait_timeout_ms: int = 500,
    ) -> None:
        self._wait_replicas = wait_replicas
        self._wait_timeout_ms = wait_timeout_ms
        self._nodes: dict[str, aioredis.Redis] = {}
        super().__init__(url, prefix, history_size, history_ttl, lease_ttl)

    def _client(self, url: str) -> Any:
        seeds = [urlparse(u.strip()) for u in url.split(",")]
        first = seeds[0]
        return RedisCluster(
            startup_nodes=[ClusterNode(s.hostname or "127.0.0.1", s.port or 6379) for s in seeds],
            password=first.password,
            username=first.username,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=2,
        )

    def _new_subscriptions(self) -> Any:
        return ShardedSubscriptions(self)

    @property
    def cluster(self) -> RedisCluster:
        cluster: RedisCluster = self._redis
        return cluster

    async def start(self, listeners: Any) -> None:
        try:
            await self.cluster.initialize()
        except (RedisError, RedisClusterException, OSError) as exc:
            log.warning("redis cluster unreachable at start (%s); retrying in the background", masked(str(exc)))
        await super().start(listeners)

    async def close(self) -> None:
        await super().close()
        for client in self._nodes.values():
            await client.aclose()

    def node_client(self, node: ClusterNode) -> aioredis.Redis:
        """A plain client for one master (its own pool): scripts + WAIT on one connection."""
        client = self._nodes.get(node.name)
        if client is None:
            first = urlparse(self._url.split(",")[0].strip())
            # No silent reconnects: a failure must reach our own routing and resubscription
            # (a pub/sub reconnecting by itself to a node that came back as a replica would
            # keep subscriptions on the wrong shard).
            client = self._nodes[node.name] = aioredis.Redis(
                host=node.host,
                port=int(node.port),
                password=first.password,
                username=first.username,
                decode_responses=True,
                socket_timeout=5,
                socket_connect_timeout=2,
                retry=Retry(NoBackoff(), 0),
            )
        return client

    async def master_of(self, key: str) -> ClusterNode:
        for _attempt in range(2):
            try:
                node = self.cluster.get_node_from_key(key)
            except SlotNotCoveredError:
                node = None
            if node is not None:
                return node
            await self.refresh()
        raise RedisConnectionError("slot not covered")

    async def refresh(self) -> None:
        await self.cluster.nodes_manager.initialize()

    # -- publishing -------------------------------------------------------------------
    async def _append_targets(
        self, publisher: str, notifications: Sequence[Notification], targets: list[Target]
    ) -> list[tuple[Target, str, Any]]:
        broadcast_slot = self.cluster.keyslot(BROADCAST.meta(self._p))
        by_slot: dict[int, list[Target]] = {}
        for target in targets:
            by_slot.setdefault(self.cluster.keyslot(_stream_key(self._p, target.user_id)), []).append(target)
        others = {slot: group for slot, group in by_slot.items() if slot != broadcast_slot}
        position = ""
        if others and not notifications[0].is_broadcast:
            # Best effort: the broadcast position before this publish stamps the user events
            # that come before its first broadcast (another publisher's may land in between).
            position = str((await self._read_one(BROADCAST, None, StreamPosition("", _ZERO), 0)).position)
        calls = [
            call
            for slot, group in by_slot.items()
            if slot == broadcast_slot
            for call in self._calls(publisher, notifications, group, True, "", None)
        ]
        results: list[tuple[Target, str, Any]] = []
        if calls:  # the broadcast stream's slot first: its positions stamp the rest
            await self._run_calls(calls, results)
        if others:
            stamps = _stamps(notifications, results, position)
            calls = [
                call
                for group in others.values()
                for call in self._calls(publisher, notifications, group, False, position, stamps)
            ]
            await self._run_calls(calls, results)
        return results

    def _calls(
        self,
        publisher: str,
        notifications: Sequence[Notification],
        group: list[Target],
        read_broadcast: bool,
        position: str,
        stamps: dict[int, str] | None,
    ) -> list[AppendCall]:
        return [
            AppendCall(
                self._p,
                publisher,
                notifications,
                group[start : start + CALL_TARGETS],
                read_broadcast=read_broadcast,
                broadcast_position=position,
                publish_command=self.publish_command,
                stamps=stamps,
            )
            for start in range(0, len(group), CALL_TARGETS)
        ]

    async def _run_calls(self, calls: list[AppendCall], results: list[tuple[Target, str, Any]]) -> None:
        """Calls grouped by master, one connection each, then one WAIT; a moved slot or a
        failover in progress refreshes the slot map and retries what was not done."""
        pending = calls
        for attempt in range(ROUTING_ATTEMPTS):
            by_node: dict[str, tuple[ClusterNode, list[AppendCall]]] = {}
            for call in pending:
                node = await self.master_of(call.keys[0])
                by_node.setdefault(node.name, (node, []))[1].append(call)
            outcomes = await asyncio.gather(
                *(self._run_on_node(node, node_calls, results) for node, node_calls in by_node.values()), return_exceptions=True
            )
            pending = [call for outcome in outcomes if isinstance(outcome, _Retry) for call in outcome.calls]
            failures = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, _Retry)]
            if failures:
                raise failures[0]
            if not pending:
                return
            await asyncio.sleep(0.25 * (attempt + 1))
            await self.refresh()
        raise BrokerUnavailable(STORE_UNAVAILABLE)

    async def _run_on_node(self, node: ClusterNode, calls: list[AppendCall], results: list[Any]) -> None:
        done = 0
        try:
            async with self.node_client(node).client() as connection:
                for call in calls:
                    results.extend(await self._run_append(call, connection))
                    done += 1
                if self._wait_replicas:
                    acked = await connection.execute_command("WAIT", self._wait_replicas, self._wait_timeout_ms)  # type: ignore[no-untyped-call]
                    if int(acked) < self._wait_replicas:
                        log.warning(
                            "redis cluster: %s acknowledged by %s of %s replicas within %s ms",
                            node.name,
                            acked,
                            self._wait_replicas,
                            self._wait_timeout_ms,
                        )
                        raise BrokerUnavailable(STORE_UNAVAILABLE)
        except (RedisError, OSError) as exc:
            if _moved_or_gone(exc):
                log.info("redis cluster: %s while publishing on %s; refreshing the slot map", masked(str(exc)), node.name)
                raise _Retry(calls[done:]) from exc
            raise

    # -- reading ----------------------------------------------------------------------
    async def _read_both(
        self, user_id: str, user_after: StreamPosition, broadcast_after: StreamPosition, count: int
    ) -> tuple[StreamRead, StreamRead]:
        return await asyncio.gather(
            self._read_one(user_keys(user_id), user_id, user_after, count),
            self._read_one(BROADCAST, None, broadcast_after, count),
        )

    async def _read_one(self, keys: Any, user_id: str | None, after: StreamPosition, count: int) -> StreamRead:
        return _stream_read(await self._read_call(self._redis, keys, after, count), user_id)

    # -- leases and evictions -----------------------------------------------------------
    async def _renew(self, leases: Sequence[tuple[str, str]], expiry: int) -> None:
        for key, connections in _by_user(leases, self._p).items():
            await self._scripts["RENEW_LEASES"](keys=[key], args=[expiry, *connections])

    async def _send_evict(self, channel: str, message: str) -> None:
        node = await self.master_of(channel)
        await self.node_client(node).execute_command("SPUBLISH", channel, message)  # type: ignore[no-untyped-call]


class _Retry(Exception):
    def __init__(self, calls: list[AppendCall]) -> None:
        super().__init__("retry on the new owner")
        self.calls = calls


def _moved_or_gone(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, TimeoutError)) or any(
        word in text for word in ("MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "Connection", "Timeout")
    )


def _stream_key(prefix: str, user_id: str | None) -> str:
    return (BROADCAST if user_id is None else user_keys(user_id)).meta(prefix)


def _stamps(notifications: Sequence[Notification], done: list[tuple[Target, str, Any]], position: str) -> dict[int, str]:
    """Each user notification's broadcast position: after the broadcasts before it in
    this request, else `position` (read before the request)."""
    written = {target.index: str(event.position) for target, _, event in done if target.user_id is None and event}
    stamps: dict[int, str] = {}
    latest = position
    for index, n in enumerate(notifications):
        latest = written.get(index, latest)
        if not n.is_broadcast:
            stamps[index] = latest
    return stamps
