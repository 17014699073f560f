"""The entry points for what a client sends back in a query string or header: a page
size and an event id. Hostile text is a ValueError here, before any `int()` sees it."""

from __future__ import annotations

from .types import EventId

MAX_EVENT_ID_LENGTH = 128  # ids are opaque to clients; any id this service issues is far shorter
MAX_LIMIT_DIGITS = 6


def parse_limit(raw: str, maximum: int) -> int:
    """A positive decimal integer of ASCII digits, at most ``maximum``."""
    if not (0 < len(raw) <= MAX_LIMIT_DIGITS and raw.isascii() and raw.isdigit()):
        raise ValueError(f"expected an integer from 1 to {maximum}")
    value = int(raw)
    if not 1 <= value <= maximum:
        raise ValueError(f"expected an integer from 1 to {maximum}")
    return value


def parse_event_id(raw: str) -> EventId:
    """An id this service issued, as sent back in `after` or `Last-Event-ID`.

    Only printable ASCII of bounded length reaches the id parser (str.isdigit accepts
    superscripts and other scripts' digits; int() refuses some of them and accepts
    others, and refuses more than 4300 digits)."""
    if not (0 < len(raw) <= MAX_EVENT_ID_LENGTH and raw.isascii() and raw.isprintable()):
        raise ValueError("not an event id issued by this service")
    return EventId.parse(raw)
