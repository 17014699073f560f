"""The common publish body, accepted in one typed decode: a batch of per-user notifications
that is valid as it stands.

msgspec checks the shape in C (known fields only, their types, strict JSON in `data`); what
is left here is each field's own rule, the same checks `publishing._one` makes. Anything
else — a single notification, `user_ids`, `broadcast`, any refusal — returns None and goes
the general way, which names every problem. Both ways accept exactly the same bodies as
the same notifications (tests/sse_service/test_publish_fast_path.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from . import strict_json
from .auth import valid_user_id
from .publish_rules import MAX_IDEMPOTENCY_KEY, event_name_ok, storable
from .types import COLLAPSE_KEY, Notification


class _Item(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    data: Any = UNSET
    user_id: str | UnsetType = UNSET
    event: str = "notification"
    idempotency_key: str | None = None
    collapse_key: str | None = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    notifications: list[_Item]


_DECODER = msgspec.json.Decoder(_Batch)


def valid_batch(body: bytes, max_batch: int, max_payload: int, max_recipients: int, max_depth: int) -> list[Notification] | None:
    """The batch's notifications when every item is a valid per-user notification and the
    request is within its limits; None for anything else (nothing is refused here)."""
    try:
        items = _DECODER.decode(body).notifications
    except (msgspec.DecodeError, RecursionError):
        return None
    if not 0 < len(items) <= min(max_batch, max_recipients):
        return None
    notifications: list[Notification] = []
    keys: set[str] | None = None
    encode, too_deep = strict_json.encode, strict_json.too_deep
    for item in items:
        user_id, data, key, collapse_key = item.user_id, item.data, item.idempotency_key, item.collapse_key
        if (
            user_id.__class__ is not str
            or data is UNSET
            or not valid_user_id(user_id)
            or not (user_id.isascii() or storable(user_id))
            or not event_name_ok(item.event)
            or (collapse_key is not None and COLLAPSE_KEY.fullmatch(collapse_key) is None)
            or too_deep(data, max_depth)
        ):
            return None
        if key is not None:
            if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
                return None
            if keys is None:
                keys = set()
            elif key in keys:
                return None
            keys.add(key)
        data_json = encode(data)
        if len(data_json) > max_payload:
            return None
        notifications.append(Notification((user_id,), item.event, data_json.decode(), key, collapse_key=collapse_key))
    return notifications
