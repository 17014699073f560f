"""Shared types of the delivery core: notifications, stored events, ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

EVENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_U64 = 2**64       # both parts of an id are 64-bit, as in Redis stream ids


@dataclass(frozen=True, slots=True, order=True)
class EventId:
    """An event id as clients see it: ``"<ms>-<seq>"``, opaque to them.

    ``seq`` is one counter for the whole deployment, so it alone orders events across a
    user's own history and the broadcast history; ``ms`` is the store's clock when the
    event was accepted, which lets the store trim by age.
    """

    ms: int
    seq: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    @classmethod
    def parse(cls, text: str) -> "EventId":
        ms, sep, seq = text.strip().partition("-")
        if not sep or not ms.isdigit() or not seq.isdigit() or len(text) > 42:
            raise ValueError(f"not an event id: {text[:50]!r}")
        value = cls(int(ms), int(seq))
        if value.ms >= _U64 or value.seq >= _U64:
            raise ValueError(f"not an event id: {text[:50]!r}")
        return value


@dataclass(frozen=True, slots=True)
class Notification:
    """One validated notification as published: to some users, or to everyone."""

    user_ids: tuple[str, ...]      # empty for a broadcast
    event: str
    data_json: str                 # the published `data`, serialised once
    idempotency_key: str | None = None
    trace: dict[str, str] | None = None

    @property
    def is_broadcast(self) -> bool:
        return not self.user_ids


@dataclass(slots=True, eq=False)
class StoredEvent:
    """An event as stored and fanned out: `user_id` is None for a broadcast.

    `wire` caches the SSE encoding so that a broadcast is encoded once per process, not
    once per connection.
    """

    id: EventId
    user_id: str | None
    event: str
    data_json: str
    created_at: float              # unix seconds when the publish was accepted
    trace: dict[str, str] | None = None
    _wire: bytes | None = field(default=None, repr=False)

    @property
    def seq(self) -> int:
        return self.id.seq

    def as_inbox_item(self) -> dict[str, Any]:
        import json
        from datetime import datetime, timezone

        return {
            "id": str(self.id),
            "event": self.event,
            "data": json.loads(self.data_json),
            "created_at": datetime.fromtimestamp(self.created_at, timezone.utc).isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Events after a cursor, oldest first; `reset` when the cursor fell out of retention."""

    events: list[StoredEvent]
    reset: bool = False


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """Whether a new connection may open, and which older ones it pushes out."""

    granted: bool
    evicted: tuple[str, ...] = ()


class PublishRefused(Exception):
    """The store cannot accept notifications right now (e.g. Redis is down)."""
