"""The Broker protocol: where notifications are stored and how they reach every instance.

A broker owns three things that must agree across instances: the per-user history
(the inbox and the source of replay), fan-out to whichever instance holds a user's
streams, and the per-user connection leases that make the per-user limit global.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..types import EventId, HistoryPage, LeaseResult, Notification, StoredEvent

EventListener = Callable[[StoredEvent], None]
EvictListener = Callable[[str, str], None]  # (user_id, connection_id)
OutageListener = Callable[[], None]  # fan-out may have missed events


@dataclass(frozen=True, slots=True)
class BrokerListeners:
    on_event: EventListener
    on_evict: EvictListener
    on_fanout_lost: OutageListener
    # The events of one publish at once, in order, where a broker has them together (the
    # memory broker); the same as `on_event` for each.
    on_events: Callable[[list[StoredEvent]], None] | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What a publish stored: ids per notification (in input order) and the new events."""

    ids: list[list[str]]
    events: list[StoredEvent]
    duplicates: int = 0


class Broker(Protocol):
    """Every method raises `BrokerUnavailable` when the store fails, and no other store
    error (tests/sse_service/broker/test_broker_error_contract.py); `unsubscribe` and
    `close` never raise."""

    name: str

    async def start(self, listeners: BrokerListeners) -> None: ...
    async def close(self) -> None: ...

    async def append(self, publisher: str, notifications: Sequence[Notification]) -> Accepted:
        """Store and fan out, all or nothing (per cluster slot in cluster mode).

        `publisher` is the publisher's identity (idempotency keys are scoped to it).
        Raises IdempotencyConflict (a key reused with another notification),
        UnusableUserId, or BrokerUnavailable.
        """
        ...

    async def history(self, user_id: str, after: EventId | None, limit: int) -> HistoryPage:
        """The user's events (own + broadcast) after `after`, oldest first, with their ids."""
        ...

    async def position(self, user_id: str) -> EventId:
        """Where the user's stream and the broadcast stream stand now: "now" as a cursor.
        Creates a stream's epoch when it has none yet, so every cursor carries a real one."""
        ...

    async def subscribe(self, user_id: str) -> None:
        """Receive this user's events here; returns once the subscription is live. One that
        raises or is cancelled holds nothing: only a returned subscribe is undone by
        `unsubscribe`."""
        ...

    async def unsubscribe(self, user_id: str) -> None: ...

    async def acquire_lease(self, user_id: str, connection_id: str, limit: int, evict_oldest: bool) -> LeaseResult: ...
    async def release_lease(self, user_id: str, connection_id: str) -> None: ...
    async def renew_leases(self, leases: Sequence[tuple[str, str]]) -> None: ...
    async def evict(self, user_id: str, connection_id: str) -> None:
        """Ask whichever instance holds `connection_id` to close it."""
        ...

    async def check(self) -> str | None:
        """None when usable, else the reason it is not (for /readyz)."""
        ...
