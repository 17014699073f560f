"""Shared types of the flags package: what the service asks of a flag system."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class FlagFreshness(str, Enum):
    FRESH = "fresh"  # the last refresh succeeded
    STALE = "stale"  # serving the last known state; refreshes are failing
    UNKNOWN = "unknown"  # no flag state known yet (not ready)


@dataclass(frozen=True)
class FlagHealth:
    freshness: FlagFreshness
    source: str  # "file:/path" or "unleash:http://…"
    last_refresh: float | None  # unix time of the last successful refresh
    error: str | None = None  # the last refresh error, if any
    outages: int = 0  # refresh failures that started an outage


@dataclass(frozen=True)
class Knobs:
    """Per-user tuning from the `sse-tuning` flag variant; None means "use the setting"."""

    max_connections_per_user: int | None = None
    ping_interval: float | None = None
    batch_window_ms: int | None = None
    collapse_window_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """One user's answer on connect: in the rollout, and with which tuning (Knobs() when not in)."""

    enabled: bool
    knobs: Knobs


@dataclass(frozen=True)
class FlagGateConfig:
    rollout_flag: str = "sse-delivery"
    tuning_flag: str = "sse-tuning"
    flags_file: str | None = None  # offline backend: Unleash client-API JSON
    unleash_url: str | None = None  # server backend when set
    unleash_api_token: str | None = None
    unleash_app_name: str = "flagstream"
    refresh_interval: float = 5.0
    failsafe: str = "off"  # "off" | "on": the decision when no state is known
    cache_directory: str | None = None
    instance_id: str | None = None
    on_evaluation: Callable[[str, str], None] | None = field(default=None, compare=False)


class FlagGate(Protocol):
    """Is this user in the rollout, and how should their streams be tuned?

    Decisions are cheap and synchronous; they are made on connect and on flag change,
    never per delivered event. ``decide`` answers a connect in one question: the rollout
    and, for a user in it, the knobs (``is_enabled`` and ``knobs`` are its two halves). ``subscribe`` listeners run on the event loop after every
    refresh, so the Hub can re-evaluate open streams.
    """

    flag: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def decide(self, user_id: str) -> Decision: ...
    def is_enabled(self, user_id: str) -> bool: ...
    def knobs(self, user_id: str) -> Knobs: ...
    def health(self) -> FlagHealth: ...
    def subscribe(self, listener: Callable[[], None]) -> None: ...


@dataclass(frozen=True)
class RolloutState:
    flag: str
    enabled: bool
    percentage: int
    allowlist: tuple[str, ...]


class FlagAdmin(Protocol):
    """What the rollout controller changes: one flag, one percentage, one allowlist."""

    async def set_rollout(self, percent: int) -> None: ...
    async def set_allowlist(self, user_ids: list[str]) -> None: ...
    async def enable(self) -> None: ...
    async def disable(self) -> None: ...
    async def state(self) -> RolloutState: ...


class FlagConfigError(ValueError):
    """Flag configuration that cannot work (bad URL, unreadable flags file); one line, names the setting."""


class FlagsFileError(FlagConfigError):
    """A flags file that cannot be used; the message is one line naming the file."""


class KnobsPayloadError(ValueError):
    """A `sse-tuning` variant payload that must not be applied."""


class UnleashAdminError(RuntimeError):
    """Unleash refused a flag change or could not be reached; the message is one line."""
