"""Rules of single publish fields, shared by the general validator (publishing.py) and the
typed fast path (publish_fast_path.py), so that both accept exactly the same values."""

from __future__ import annotations

from .types import EVENT_NAME

MAX_IDEMPOTENCY_KEY = 200
_EVENT_NAMES_SEEN: set[str] = set()  # valid names seen, so the usual few are matched once


def event_name_ok(event: str) -> bool:
    """A short token: letters, digits, '_', '.', '-', 1 to 64 characters."""
    if event in _EVENT_NAMES_SEEN:
        return True
    if EVENT_NAME.fullmatch(event) is None:
        return False
    if len(_EVENT_NAMES_SEEN) >= 1024:  # bounded whatever publishers send
        _EVENT_NAMES_SEEN.clear()
    _EVENT_NAMES_SEEN.add(event)
    return True


def storable(user_id: str) -> bool:
    """Valid UTF-8 (a lone surrogate is not): stored and compared the same on every broker."""
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
