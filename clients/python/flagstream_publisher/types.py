"""What a publisher sends: one notification, to a user, several users, or everyone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Notification:
    data: Any
    user_ids: tuple[str, ...] = ()
    broadcast: bool = False
    event: str = "notification"
    idempotency_key: str | None = None

    @classmethod
    def to_user(cls, user_id: str, data: Any, *, event: str = "notification", idempotency_key: str | None = None) -> Notification:
        return cls(data, (user_id,), event=event, idempotency_key=idempotency_key)

    @classmethod
    def to_users(
        cls, user_ids: list[str] | tuple[str, ...], data: Any, *, event: str = "notification", idempotency_key: str | None = None
    ) -> Notification:
        return cls(data, tuple(user_ids), event=event, idempotency_key=idempotency_key)

    @classmethod
    def to_everyone(cls, data: Any, *, event: str = "notification", idempotency_key: str | None = None) -> Notification:
        return cls(data, broadcast=True, event=event, idempotency_key=idempotency_key)

    def with_key(self) -> Notification:
        """This notification with an idempotency key (a fresh random one if it had none)."""
        return self if self.idempotency_key else replace(self, idempotency_key=f"fsp-{uuid.uuid4().hex}")

    @property
    def id_count(self) -> int:
        """How many ids the server answers for it: one per distinct recipient, one for a broadcast."""
        return 1 if self.broadcast else len(dict.fromkeys(self.user_ids))

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"event": self.event, "data": self.data}
        if self.broadcast:
            item["broadcast"] = True
        elif len(self.user_ids) == 1:
            item["user_id"] = self.user_ids[0]
        else:
            item["user_ids"] = list(self.user_ids)
        if self.idempotency_key:
            item["idempotency_key"] = self.idempotency_key
        return item
