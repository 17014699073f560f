"""The Python client: every notification of one user, streamed or polled."""

from .backoff import Backoff
from .notifications import NotificationClient
from .types import AuthenticationFailed, BackoffPolicy, ClientOptions, ClientStats, Notification, TokenProvider

__all__ = [
    "AuthenticationFailed",
    "Backoff",
    "BackoffPolicy",
    "ClientOptions",
    "ClientStats",
    "Notification",
    "NotificationClient",
    "TokenProvider",
]
