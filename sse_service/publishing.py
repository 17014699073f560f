"""Turning a publish request body into validated notifications, or a precise refusal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .auth import valid_user_id
from .types import EVENT_NAME, Notification

MAX_RECIPIENTS = 1000
MAX_IDEMPOTENCY_KEY = 200
_FIELDS = {"user_id", "user_ids", "broadcast", "event", "data", "idempotency_key"}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class PublishInvalid(Exception):
    """The whole request is refused; `status` is 413 or 422."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.status = status
        self.problems = problems

    def body(self) -> dict[str, Any]:
        error = "too_large" if self.status == 413 else "invalid"
        return {"error": error, "detail": [{"field": p.field, "message": p.message} for p in self.problems]}


def parse_publish(body: bytes, *, max_batch: int, max_payload_bytes: int) -> list[Notification]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PublishInvalid(422, [Problem("body", f"malformed JSON: {exc}")]) from None
    if not isinstance(document, dict):
        raise PublishInvalid(422, [Problem("body", "expected a JSON object")])
    if "notifications" in document:
        if set(document) != {"notifications"}:
            raise PublishInvalid(422, [Problem("body", "a batch has only the key 'notifications'")])
        items, prefix = document["notifications"], "notifications"
        if not isinstance(items, list) or not items:
            raise PublishInvalid(422, [Problem("notifications", "expected a non-empty list")])
        if len(items) > max_batch:
            raise PublishInvalid(422, [Problem("notifications", f"at most {max_batch} notifications per request")])
        labelled = [(f"{prefix}[{i}]", item) for i, item in enumerate(items)]
    else:
        labelled = [("", document)]
    problems: list[Problem] = []
    oversized: list[Problem] = []
    notifications = [_one(label, item, max_payload_bytes, problems, oversized) for label, item in labelled]
    if problems:
        raise PublishInvalid(422, problems)
    if oversized:
        raise PublishInvalid(413, oversized)
    return notifications  # type: ignore[return-value]


def _one(label: str, item: Any, max_payload: int, problems: list[Problem], oversized: list[Problem]) -> Notification | None:
    def field(name: str) -> str:
        return f"{label}.{name}" if label else name

    if not isinstance(item, dict):
        problems.append(Problem(label or "body", "expected a JSON object"))
        return None
    before = len(problems)
    for unknown in sorted(set(item) - _FIELDS):
        problems.append(Problem(field(unknown), "unknown field"))
    targets = [k for k in ("user_id", "user_ids", "broadcast") if k in item]
    user_ids: tuple[str, ...] = ()
    if len(targets) != 1:
        problems.append(Problem(field("user_id"), "give exactly one of user_id, user_ids or broadcast: true"))
    elif targets[0] == "user_id":
        if valid_user_id(item["user_id"]):
            user_ids = (item["user_id"],)
        else:
            problems.append(Problem(field("user_id"), "expected a non-empty string (at most 256 characters, no control characters)"))
    elif targets[0] == "user_ids":
        ids = item["user_ids"]
        if not isinstance(ids, list) or not ids or len(ids) > MAX_RECIPIENTS:
            problems.append(Problem(field("user_ids"), f"expected a list of 1 to {MAX_RECIPIENTS} user ids"))
        elif not all(valid_user_id(u) for u in ids):
            problems.append(Problem(field("user_ids"), "every user id must be a non-empty string without control characters"))
        else:
            user_ids = tuple(dict.fromkeys(ids))
    elif item["broadcast"] is not True:
        problems.append(Problem(field("broadcast"), "must be true when given"))
    event = item.get("event", "notification")
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        problems.append(Problem(field("event"), "expected a short token: letters, digits, '_', '.', '-', 1 to 64 characters"))
    key = item.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        problems.append(Problem(field("idempotency_key"), f"expected a string of 1 to {MAX_IDEMPOTENCY_KEY} characters"))
    if "data" not in item:
        problems.append(Problem(field("data"), "required"))
        return None
    data_json = json.dumps(item["data"], separators=(",", ":"), ensure_ascii=False)
    if len(data_json.encode()) > max_payload:
        oversized.append(Problem(field("data"), f"larger than MAX_PAYLOAD_BYTES ({max_payload} bytes)"))
    if len(problems) > before:
        return None
    return Notification(user_ids, event, data_json, key)
