"""What the delivery core asks of tracing; `observability.tracing` implements it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import ContextManager, Protocol


class DeliveryTracing(Protocol):
    def publish(self, count: int, destination: str) -> ContextManager[dict[str, str] | None]: ...
    def delivered(self, carriers: Sequence[dict[str, str] | None], event_count: int) -> None: ...


class NoTracing:
    """Tracing switched off."""

    @contextlib.contextmanager
    def publish(self, count: int, destination: str) -> Iterator[dict[str, str] | None]:
        yield None

    def delivered(self, carriers: Sequence[dict[str, str] | None], event_count: int) -> None:
        return None
