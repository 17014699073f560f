"""The Hub: every open stream of this process, by user, with its limits.

One per process. It never formats event payloads and never talks to Redis: the broker
hands it events, and each connection's writer turns them into bytes.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from observability.types import HubSnapshot, Metrics

from .connection import EVENT_OVERHEAD, Closing, Connection, Ping
from .stream_encoding import FINAL_EVENTS, final_event, ping_event
from .types import StoredEvent


@dataclass(frozen=True, slots=True)
class HubLimits:
    max_connections: int
    retry_ms: int
    queue_max_delay: float = 30.0  # a stream whose queue/write made no progress this long is cut (overflow)


class Hub:
    def __init__(self, limits: HubLimits, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self._limits = limits
        self._metrics = metrics
        self._clock = clock
        self._users: dict[str, dict[str, Connection]] = {}
        self._count = 0
        self._everyone: list[Connection] | None = None  # flat list for broadcasts, rebuilt after changes
        self.draining = False

    # -- registry -------------------------------------------------------------------
    @property
    def connection_count(self) -> int:
        return self._count

    @property
    def user_count(self) -> int:
        return len(self._users)

    def refusal(self) -> str | None:
        """Why a new stream cannot open here now (checked after token and rollout)."""
        if self.draining:
            return "draining"
        if self._count >= self._limits.max_connections:
            return "global_limit"
        return None

    def register(self, connection: Connection) -> bool:
        """Add a connection; True when it is the user's first one on this instance."""
        held = self._users.setdefault(connection.user_id, {})
        held[connection.id] = connection
        self._count += 1
        self._everyone = None
        self._metrics.connection_opened()
        return len(held) == 1

    def unregister(self, connection: Connection, reason: str) -> bool:
        """Remove a connection; True when the user has no stream left on this instance."""
        held = self._users.get(connection.user_id)
        if held is None or held.pop(connection.id, None) is None:
            return False
        self._count -= 1
        self._everyone = None
        closing = connection.closing
        if closing is None or closing.reason == "client":
            # Every other ending was counted by `_end` when the hub decided it.
            self._metrics.connection_closed(closing.reason if closing else reason)
        if held:
            return False
        del self._users[connection.user_id]
        return True

    def connections(self) -> Iterator[Connection]:
        for held in self._users.values():
            yield from held.values()

    def user_connections(self, user_id: str) -> list[Connection]:
        return list(self._users.get(user_id, {}).values())

    # -- delivery -------------------------------------------------------------------
    def dispatch(self, event: StoredEvent) -> None:
        targets: Iterable[Connection]
        if event.user_id is None:
            targets = self._every_connection()
        else:
            held = self._users.get(event.user_id)
            if not held:
                return
            targets = held.values()  # offering never changes the registry: no copy needed
        for connection in targets:
            if not connection.offer(event):
                self.close(connection, "overflow")

    def _every_connection(self) -> list[Connection]:
        """One flat list kept between registry changes: broadcasts walk every connection
        once per event (or per run), not rebuilt from the user dicts each time."""
        everyone = self._everyone
        if everyone is None:
            everyone = self._everyone = list(self.connections())
        return everyone

    def dispatch_all(self, events: list[StoredEvent]) -> None:
        """`dispatch` each event, in order; a run of broadcasts without collapse keys (a
        broadcast publish) goes to each connection in one step instead of one per event."""
        run: list[StoredEvent] = []
        for event in events:
            if event.user_id is None and event.collapse_key is None:
                run.append(event)
                continue
            if run:
                self._dispatch_broadcasts(run)
                run = []
            self.dispatch(event)
        if run:
            self._dispatch_broadcasts(run)

    def _dispatch_broadcasts(self, run: list[StoredEvent]) -> None:
        if len(run) == 1:
            self.dispatch(run[0])
            return
        size = sum(len(event.data_json) for event in run) + EVENT_OVERHEAD * len(run)
        for connection in self._every_connection():
            if not connection.offer_run(run, size):
                self.close(connection, "overflow")

    # -- ending streams -------------------------------------------------------------
    def close(self, connection: Connection, reason: str) -> None:
        self._end(connection, Closing(reason, FINAL_EVENTS[reason]))

    def _end(self, connection: Connection, closing: Closing) -> None:
        """End a stream and count it now: its writer may take seconds to let go (a write
        stuck on a slow consumer's socket), and gates read these counts."""
        if connection.closing is None:
            self._metrics.connection_closed(closing.reason)
            connection.close(closing)

    def evict(self, user_id: str, connection_id: str) -> None:
        connection = self._users.get(user_id, {}).get(connection_id)
        if connection is not None:
            self.close(connection, "evicted")

    def start_draining(self) -> None:
        """Stop accepting streams and tell every client to come back after a jittered retry."""
        self.draining = True
        self.send_everyone_away("shutdown")

    def send_everyone_away(self, reason: str) -> None:
        """End every stream with `shutdown` and a per-connection jittered `retry`, so that
        clients come back spread out and resume from history (also used when fan-out
        may have missed events: they reconnect and replay what they lack)."""
        base = self._limits.retry_ms
        for connection in list(self.connections()):
            retry = base + random.randint(0, max(base, 1000))
            self._end(connection, Closing(reason, final_event("shutdown", retry=retry)))

    # -- timers (one for the whole hub, not one per stream) ---------------------------
    def tick(self) -> None:
        """Send due pings, end streams whose token expired and streams too far behind; run
        about once a second."""
        now = self._clock()
        ping: Ping | None = None
        max_delay = self._limits.queue_max_delay
        for connection in list(self.connections()):
            if connection.closing is not None:
                continue
            if connection.expires_at is not None and now >= connection.expires_at:
                self.close(connection, "reauth")
            elif connection.behind(now, max_delay):
                self.close(connection, "overflow")
            elif now >= connection.next_ping:
                if ping is None:
                    ping = ping_event(now)
                connection.next_ping = now + connection.ping_interval
                if not connection.offer(ping):
                    self.close(connection, "overflow")

    # -- what SREs see --------------------------------------------------------------
    def snapshot(self) -> HubSnapshot:
        buckets = {"1": 0, "2": 0, "3": 0, "4": 0, "5+": 0}
        for held in self._users.values():
            n = len(held)
            buckets[str(n) if n < 5 else "5+"] += 1
        return HubSnapshot(self._count, len(self._users), buckets)

    def top_users(self, n: int = 10) -> list[dict[str, object]]:
        top = heapq.nlargest(n, self._users.items(), key=lambda item: len(item[1]))
        return [{"user_id": user_id, "connections": len(held)} for user_id, held in top]
