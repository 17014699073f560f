"""The notification worker: between the publish API and fan-out.

It stores first and answers then: the broker appends to history and hands the events
to fan-out in one step, and the caller never waits for delivery to any stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from observability.types import Metrics, Tracing

from .broker.base import Broker
from .types import BrokerUnavailable, IdempotencyConflict, Notification, UnusableUserId


class NotificationWorker:
    def __init__(self, broker: Broker, metrics: Metrics, tracing: Tracing) -> None:
        self._broker = broker
        self._metrics = metrics
        self._tracing = tracing

    async def publish(self, publisher: str, notifications: Sequence[Notification]) -> list[str]:
        """Store the notifications and return one id per notification per recipient."""
        broadcast = any(n.is_broadcast for n in notifications)
        destination = "broadcast" if broadcast and len(notifications) == 1 else "user/{id}"
        with self._tracing.publish(len(notifications), destination) as carrier:
            if carrier:
                notifications = [msgspec.structs.replace(n, trace=carrier) for n in notifications]
            try:
                accepted = await self._broker.append(publisher, notifications)
            except (IdempotencyConflict, UnusableUserId):
                raise  # the request's fault (409/422), not the service's
            except BrokerUnavailable:
                self._metrics.error("publish")
                raise
        broadcasts = sum(1 for event in accepted.events if event.user_id is None) if broadcast else 0
        if broadcasts:
            self._metrics.events_published("broadcast", broadcasts)
        if len(accepted.events) > broadcasts:
            self._metrics.events_published("user", len(accepted.events) - broadcasts)
        return [event_id for ids in accepted.ids for event_id in ids]
