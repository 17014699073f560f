"""Typed refusals: what the server said, with its field details, and what was already stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str  # e.g. "notifications[1203].event", numbered over everything given to publish_many
    message: str


class PublishError(Exception):
    """Base of every error the publisher raises.

    `published` holds the ids of the notifications stored before the failure (earlier
    batches of a `publish_many`), in input order.
    """

    def __init__(self, message: str, *, published: list[list[str]] | None = None) -> None:
        super().__init__(message)
        self.published = published or []


class PublishRefused(PublishError):
    """A 4xx answer: retrying the same request cannot help."""

    def __init__(
        self,
        status: int,
        error: str,
        problems: tuple[FieldProblem, ...] = (),
        detail: Any = None,
        published: list[list[str]] | None = None,
    ) -> None:
        described = "; ".join(f"{p.field}: {p.message}" for p in problems) or (str(detail) if detail else error)
        super().__init__(f"{status} {error}: {described}", published=published)
        self.status = status
        self.error = error
        self.problems = problems
        self.detail = detail


class InvalidNotification(PublishRefused):
    """422: the server named each invalid field; nothing of that batch was stored."""


class PayloadTooLarge(PublishRefused):
    """413: a notification's data is over MAX_PAYLOAD_BYTES."""


class Unauthorized(PublishRefused):
    """401/403: the publish token is missing, wrong, or lacks the `publish` scope."""


class PublishUnavailable(PublishError):
    """Every attempt failed with 429/5xx or no answer, until the retry policy gave up."""

    def __init__(self, message: str, *, attempts: int, last_status: int | None, published: list[list[str]] | None = None) -> None:
        super().__init__(message, published=published)
        self.attempts = attempts
        self.last_status = last_status
