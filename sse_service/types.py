"""Shared types of the delivery core: notifications, stored events, ids."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import msgspec
from msgspec.structs import force_setattr

from .sse import event_block

EVENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
COLLAPSE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_U64 = 2**64  # both parts of an offset are 64-bit, as in Redis stream ids
EPOCH_LENGTH = 12  # hex digits of a stream's epoch
MAX_CURSOR_LENGTH = 2 * (EPOCH_LENGTH + 1 + 41) + 1
_OFFSET = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_CURSOR = re.compile(
    r"([0-9a-f]{%d})\.([0-9]{1,20}-[0-9]{1,20})\.([0-9a-f]{%d})\.([0-9]{1,20}-[0-9]{1,20})" % (EPOCH_LENGTH, EPOCH_LENGTH)
)
_LEGACY = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


class Offset(msgspec.Struct, frozen=True, order=True, gc=False):
    """A position inside one history stream: a Redis stream entry id ``<ms>-<n>``
    (the memory broker issues the same shape). ``0-0`` is "before anything"."""

    ms: int
    n: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.n}"

    @classmethod
    def parse(cls, text: str) -> Offset:
        match = _OFFSET.fullmatch(text)
        if match is None:
            raise ValueError(f"not a stream offset: {text[:50]!r}")
        value = cls(int(match[1]), int(match[2]))
        if value.ms >= _U64 or value.n >= _U64:
            raise ValueError(f"not a stream offset: {text[:50]!r}")
        return value


ZERO = Offset(0, 0)
NO_EPOCH = "0" * EPOCH_LENGTH  # never issued: a cursor carrying it always resets
_NO_POSITION = f"{NO_EPOCH}.0-0".encode()
_NO_USER_PART = _NO_POSITION + b"."


class StreamPosition(msgspec.Struct, frozen=True, gc=False):
    """Where a reader stands in one history stream: the stream's epoch and an offset.

    The epoch is a random token written once when the stream is created; a store that
    was wiped starts a new epoch, so an old cursor can never be misread as valid.
    """

    epoch: str
    offset: Offset

    def __str__(self) -> str:
        return f"{self.epoch}.{self.offset}"

    def covers(self, epoch: str, offset: Offset) -> bool:
        """True when the entry at (epoch, offset) is at or before this position."""
        return epoch == self.epoch and offset <= self.offset


@functools.lru_cache(maxsize=1024)
def position_bytes(position: StreamPosition) -> bytes:
    """`str(position)` encoded, remembered: a stream's unchanged half of its cursor (the
    broadcast half of every per-user write, most of the time) is the same few positions."""
    return str(position).encode()


@functools.lru_cache(maxsize=1024)
def position_line(position: StreamPosition) -> bytes:
    """`position_bytes` ending the `id:` line: the broadcast half after a user event's part."""
    return position_bytes(position) + b"\n"


class EventId(msgspec.Struct, frozen=True, gc=False):
    """The one opaque cursor clients see (SSE ``id:``, inbox ``id``/``next``, ``after``,
    ``Last-Event-ID``): a position in the user's own history stream and one in the
    broadcast stream, ``<uEpoch>.<uMs>-<uN>.<bEpoch>.<bMs>-<bN>``.

    No global counter: each stream is tracked separately, so replay after a cursor is
    exactly once however the two streams interleave.
    """

    user: StreamPosition
    broadcast: StreamPosition

    def __str__(self) -> str:
        return f"{self.user}.{self.broadcast}"

    @classmethod
    def parse(cls, text: str) -> EventId:
        """A cursor this service issued; ValueError for anything else (old ``<ms>-<seq>``
        ids included: see `is_legacy_id`)."""
        match = _CURSOR.fullmatch(text) if len(text) <= MAX_CURSOR_LENGTH else None
        if match is None:
            raise ValueError(f"not an event id: {text[:50]!r}")
        return cls(StreamPosition(match[1], Offset.parse(match[2])), StreamPosition(match[3], Offset.parse(match[4])))

    def with_user(self, epoch: str, offset: Offset) -> EventId:
        return EventId(StreamPosition(epoch, offset), self.broadcast)

    def with_broadcast(self, epoch: str, offset: Offset) -> EventId:
        return EventId(self.user, StreamPosition(epoch, offset))


def is_legacy_id(text: str) -> bool:
    """An id of the scheme before epochs (``<ms>-<seq>``): answered with `reset`, never misread."""
    return len(text) <= 42 and _LEGACY.fullmatch(text) is not None


class Notification(msgspec.Struct, frozen=True, gc=False):
    """One validated notification as published: to some users, or to everyone."""

    user_ids: tuple[str, ...]  # empty for a broadcast
    event: str
    data_json: str  # the published `data`, serialised once
    idempotency_key: str | None = None
    trace: dict[str, str] | None = None
    collapse_key: str | None = None  # a newer event with the same key replaces this one while undelivered

    @property
    def is_broadcast(self) -> bool:
        return not self.user_ids


class StoredEvent(msgspec.Struct, frozen=True, eq=False, gc=False):
    """An event as stored and fanned out: `user_id` is None for a broadcast.

    `epoch`/`offset` place it in its own history stream. A user event also carries
    `broadcast_at`, the broadcast stream's position when it was published: it orders the
    event among broadcasts on replay, and makes its publish id (`id`) the id it gets in
    the stream and the inbox in the common case. `wire` is the SSE block without its `id:`
    line, encoded once where the event is made (so a broadcast is encoded once per process,
    not once per connection); the value never changes after that.
    A `collapse_key` event replaces an older one of its stream with the same key: in the
    history (a read returns only the latest per key) and in every connection queue.
    """

    user_id: str | None
    epoch: str
    offset: Offset
    event: str
    data_json: str
    created_at: float  # unix seconds when the publish was accepted
    trace: dict[str, str] | None = None
    broadcast_at: StreamPosition | None = None
    collapse_key: str | None = None
    # Derived in __post_init__, never passed: the SSE block without its `id:` line.
    wire: bytes = b""
    # Its position as it appears in an id (`<epoch>.<ms>-<n>`), once however many streams carry it.
    cursor_part: bytes = b""
    # What it writes that no stream changes, beside the other stream's half of the id: for a
    # broadcast `<cursor_part>\n` + wire, for a user event `id: <cursor_part>.` (stream_encoding).
    lead: bytes = b""
    position: StreamPosition = None  # type: ignore[assignment]  # (epoch, offset), made once

    def __post_init__(self) -> None:
        # The one place a frozen value's derived fields are set: while it is being made.
        wire = event_block(self.event, self.data_json)
        part = f"{self.epoch}.{self.offset.ms}-{self.offset.n}".encode()
        force_setattr(self, "wire", wire)
        force_setattr(self, "cursor_part", part)
        force_setattr(self, "lead", part + b"\n" + wire if self.user_id is None else b"id: " + part + b".")
        force_setattr(self, "position", StreamPosition(self.epoch, self.offset))

    @property
    def id(self) -> EventId:
        """The id the publisher is given: for a user event its own position and the
        broadcast position it was published at; for a broadcast, its position with a user
        part that never matches (as a cursor it resets: it names no user's progress)."""
        if self.user_id is None:
            return EventId(StreamPosition(NO_EPOCH, ZERO), self.position)
        return EventId(self.position, self.broadcast_at or StreamPosition(NO_EPOCH, ZERO))

    def id_text(self) -> str:
        """`str(self.id)`, without building the id's objects (the publish hot path)."""
        if self.user_id is None:
            return (_NO_USER_PART + self.cursor_part).decode()
        stamp = self.broadcast_at
        return (self.cursor_part + b"." + (position_bytes(stamp) if stamp is not None else _NO_POSITION)).decode()

    def as_inbox_item(self, event_id: EventId) -> dict[str, Any]:
        import json
        from datetime import datetime

        item = {
            "id": str(event_id),
            "event": self.event,
            "data": json.loads(self.data_json),
            "created_at": datetime.fromtimestamp(self.created_at, UTC).isoformat().replace("+00:00", "Z"),
        }
        if self.collapse_key is not None:
            item["collapse_key"] = self.collapse_key
        return item


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Events after a cursor, oldest first, each with its id (the cursor right after it);
    `reset` when the cursor fell out of retention or is from another epoch (the page
    then starts at the oldest retained event); `position` is where both streams stood."""

    events: list[StoredEvent]
    ids: list[EventId]
    position: EventId
    reset: bool = False


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """Whether a new connection may open, and which older ones it pushes out."""

    granted: bool
    evicted: tuple[str, ...] = ()


class BrokerUnavailable(Exception):
    """The broker's one error: its store failed a read or a write (every Redis error becomes
    this; nothing was acknowledged). The message is generic and safe to return; the cause,
    credentials masked, goes to the log only. Answered 503 with `Retry-After`."""


class IdempotencyConflict(Exception):
    """An idempotency key was reused with a different notification (answered 409)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"notification {index}: idempotency key reused with a different notification")
        self.index = index


class UnusableUserId(ValueError):
    """A user id that cannot be stored (e.g. a lone surrogate): refused with 422."""
