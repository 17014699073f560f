"""Publish notifications to flagstream from another service (sync and async).

    from flagstream_publisher import Notification, Publisher

    with Publisher("https://rt.example.com", token=PUBLISH_TOKEN) as publisher:
        ids = publisher.publish(Notification.to_user("u1", {"text": "shipped"}, event="order.shipped"))

Every notification gets an idempotency key before its first attempt, so a retry after a
lost answer (a restart, a proxy timeout) is stored once; 429 and 5xx are retried with
jittered backoff that waits at least the server's Retry-After; a list longer than
MAX_BATCH goes in several requests; a refusal raises a typed error with the server's
field details. Depends on httpx only: `pip install ./clients/python` installs it alone,
and the flagstream server package ships it too (`flagstream publish` uses it).
"""

from .errors import (
    FieldProblem,
    InvalidNotification,
    PayloadTooLarge,
    PublishError,
    PublishRefused,
    PublishUnavailable,
    Unauthorized,
)
from .publisher import AsyncPublisher, Publisher
from .retry import RetryPolicy
from .types import Notification

__all__ = [
    "AsyncPublisher",
    "FieldProblem",
    "InvalidNotification",
    "Notification",
    "PayloadTooLarge",
    "PublishError",
    "PublishRefused",
    "PublishUnavailable",
    "Publisher",
    "RetryPolicy",
    "Unauthorized",
]
