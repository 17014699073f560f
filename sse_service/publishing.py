"""Turning a publish request body into validated notifications, or a precise refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import strict_json
from .auth import valid_user_id
from .errors import error_body
from .publish_fast_path import valid_batch
from .publish_rules import MAX_IDEMPOTENCY_KEY, event_name_ok, storable
from .types import COLLAPSE_KEY, Notification

MAX_RECIPIENTS = 1000
MAX_RECIPIENTS_PER_REQUEST = 1000  # default of the setting: events one request may create
DEFAULT_MAX_DATA_DEPTH = 64
_FIELDS = {"user_id", "user_ids", "broadcast", "event", "data", "idempotency_key", "collapse_key"}


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
        return error_body(error, [{"field": p.field, "message": p.message} for p in self.problems])


@dataclass(frozen=True)
class PublishRequest:
    notifications: list[Notification]
    batch: bool  # `{"notifications": [...]}`, not a single notification

    def field(self, index: int, name: str) -> str:
        return f"notifications[{index}].{name}" if self.batch else name


def parse_publish(
    body: bytes,
    *,
    max_batch: int,
    max_payload_bytes: int,
    max_recipients: int = MAX_RECIPIENTS_PER_REQUEST,
    max_data_depth: int = DEFAULT_MAX_DATA_DEPTH,
) -> list[Notification]:
    return parse_publish_request(
        body,
        max_batch=max_batch,
        max_payload_bytes=max_payload_bytes,
        max_recipients=max_recipients,
        max_data_depth=max_data_depth,
    ).notifications


def parse_publish_request(
    body: bytes,
    *,
    max_batch: int,
    max_payload_bytes: int,
    max_recipients: int = MAX_RECIPIENTS_PER_REQUEST,
    max_data_depth: int = DEFAULT_MAX_DATA_DEPTH,
) -> PublishRequest:
    accepted = valid_batch(body, max_batch, max_payload_bytes, max_recipients, max_data_depth)
    if accepted is not None:
        return PublishRequest(accepted, batch=True)
    return parse_general(body, max_batch, max_payload_bytes, max_recipients, max_data_depth)


def parse_general(
    body: bytes, max_batch: int, max_payload_bytes: int, max_recipients: int, max_data_depth: int
) -> PublishRequest:
    """Any body: its notifications, or PublishInvalid naming every problem."""
    try:
        document, poison = strict_json.decode(body, max_data_depth)
    except strict_json.NotJson as exc:
        raise PublishInvalid(422, [Problem("body", f"malformed JSON: {exc}")]) from None
    if poison:
        raise PublishInvalid(422, [Problem(_field_of(p.path), f"{p.message} (at {_render(p.path)})") for p in poison])
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
    notifications = [_one(label, item, max_payload_bytes, max_data_depth, problems, oversized) for label, item in labelled]
    if not problems:
        _check_request(labelled, notifications, max_recipients, problems)  # type: ignore[arg-type]
    if problems:
        raise PublishInvalid(422, problems)
    if oversized:
        raise PublishInvalid(413, oversized)
    return PublishRequest(notifications, batch=bool(labelled[0][0]))  # type: ignore[arg-type]


def _check_request(
    labelled: list[tuple[str, Any]], notifications: list[Notification], max_recipients: int, problems: list[Problem]
) -> None:
    """Limits of the request as a whole: how many events it creates (one per recipient,
    one per broadcast), and idempotency keys used once each."""
    total = sum(len(n.user_ids) or 1 for n in notifications)
    if total > max_recipients:
        field = "notifications" if labelled[0][0] else "user_ids"
        problems.append(
            Problem(field, f"{total} recipients in one request; at most MAX_RECIPIENTS_PER_REQUEST ({max_recipients})")
        )
    seen: set[str] = set()
    for (label, _), n in zip(labelled, notifications):
        if n.idempotency_key is not None:
            if n.idempotency_key in seen:
                problems.append(Problem(f"{label}.idempotency_key" if label else "idempotency_key", "used twice in one request"))
            seen.add(n.idempotency_key)


def _one(
    label: str, item: Any, max_payload: int, max_depth: int, problems: list[Problem], oversized: list[Problem]
) -> Notification | None:
    def field(name: str) -> str:
        return f"{label}.{name}" if label else name

    if item.__class__ is not dict:
        problems.append(Problem(label or "body", "expected a JSON object"))
        return None
    before = len(problems)
    if not _FIELDS.issuperset(item):
        problems.extend(Problem(field(unknown), "unknown field") for unknown in sorted(set(item) - _FIELDS))
    targets = [k for k in ("user_id", "user_ids", "broadcast") if k in item]
    user_ids: tuple[str, ...] = ()
    if len(targets) != 1:
        problems.append(Problem(field("user_id"), "give exactly one of user_id, user_ids or broadcast: true"))
    elif targets[0] == "user_id":
        if valid_user_id(item["user_id"]) and (item["user_id"].isascii() or storable(item["user_id"])):
            user_ids = (item["user_id"],)
        else:
            problems.append(
                Problem(field("user_id"), "expected a non-empty string (at most 256 characters, no control characters)")
            )
    elif targets[0] == "user_ids":
        ids = item["user_ids"]
        if not isinstance(ids, list) or not ids or len(ids) > MAX_RECIPIENTS:
            problems.append(Problem(field("user_ids"), f"expected a list of 1 to {MAX_RECIPIENTS} user ids"))
        elif not all(valid_user_id(u) and storable(u) for u in ids):
            problems.append(Problem(field("user_ids"), "every user id must be a non-empty string without control characters"))
        else:
            user_ids = tuple(dict.fromkeys(ids))
    elif item["broadcast"] is not True:
        problems.append(Problem(field("broadcast"), "must be true when given"))
    event = item.get("event", "notification")
    if event.__class__ is not str or not event_name_ok(event):
        problems.append(Problem(field("event"), "expected a short token: letters, digits, '_', '.', '-', 1 to 64 characters"))
    key = item.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        problems.append(Problem(field("idempotency_key"), f"expected a string of 1 to {MAX_IDEMPOTENCY_KEY} characters"))
    collapse_key = item.get("collapse_key")
    if collapse_key is not None and (not isinstance(collapse_key, str) or not COLLAPSE_KEY.fullmatch(collapse_key)):
        problems.append(
            Problem(field("collapse_key"), "expected a short token: letters, digits, '_', '.', ':', '-', 1 to 64 characters")
        )
    if "data" not in item:
        problems.append(Problem(field("data"), "required"))
        return None
    if strict_json.too_deep(item["data"], max_depth):
        problems.append(Problem(field("data"), f"nested deeper than {max_depth} arrays/objects (MAX_DATA_DEPTH)"))
        return None
    data_json = strict_json.encode(item["data"])
    if len(data_json) > max_payload:
        oversized.append(Problem(field("data"), f"larger than MAX_PAYLOAD_BYTES ({max_payload} bytes)"))
    if len(problems) > before:
        return None
    return Notification(user_ids, event, data_json.decode(), key, collapse_key=collapse_key)


def _field_of(path: strict_json.Path) -> str:
    """The request field a path inside the body belongs to: `notifications[3].data`, `data`."""
    if path[:1] == ("notifications",) and len(path) > 1 and isinstance(path[1], int):
        item = f"notifications[{path[1]}]"
        return f"{item}.{path[2]}" if len(path) > 2 and isinstance(path[2], str) else item
    return str(path[0])[:64] if path else "body"


def _render(path: strict_json.Path, limit: int = 120) -> str:
    """`notifications[3].data.x[0]`, keys escaped to ASCII, cut at `limit` characters."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + _ascii(part)
        if len(text) > limit:
            return text[:limit] + "…"
    return text or "the body"


def _ascii(key: str) -> str:
    return key.encode("ascii", "backslashreplace").decode()[:40]
