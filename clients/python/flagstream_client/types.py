"""Values the Python client hands to its user and takes as options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

# Called for a first token and again after `reauth` or a 401; may be sync or async.
TokenProvider = Callable[[], str | Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification, the same whether it came over the stream or from polling."""

    id: str
    event: str
    data: Any
    via: Literal["stream", "poll", "inbox"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(maximum, minimum·factor^n))."""

    minimum: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum:
            raise ValueError("BackoffPolicy: need 0 < minimum <= maximum")
        if self.factor < 1:
            raise ValueError("BackoffPolicy: factor must be at least 1")


@dataclass(frozen=True, slots=True)
class ClientOptions:
    backoff: BackoffPolicy = BackoffPolicy()
    poll_interval: float = 5.0  # while the stream is not available to this user
    stream_retry_after: float = 60.0  # how long to poll before trying the stream again
    inbox_page: int = 100
    connect_timeout: float = 10.0
    default_ping_interval: float = 30.0  # until `connected` says otherwise
    max_auth_failures: int = 2  # consecutive 401s after a fresh token before giving up
    # After `disabled`, the first poll waits uniform(0, this) s (None: poll_interval; 0: at once).
    first_poll_jitter: float | None = None


class AuthenticationFailed(Exception):
    """The server kept refusing the tokens the provider gave (401)."""


class ClientStats:
    """What the client went through, for logs, tests and the load generator."""

    __slots__ = (
        "connects",
        "reconnects",
        "rejections",
        "token_refreshes",
        "polls",
        "watchdog_timeouts",
        "resets",
        "endings",
        "network_errors",
    )

    def __init__(self) -> None:
        self.connects = 0  # streams that reached `connected`
        self.reconnects = 0  # stream attempts after the first
        self.rejections: dict[int, int] = {}  # HTTP status → how many times
        self.token_refreshes = 0
        self.polls = 0
        self.watchdog_timeouts = 0
        self.resets = 0
        self.endings: dict[str, int] = {}  # final event → how many streams the server ended with it
        self.network_errors = 0  # streams that broke without one (or never started)
