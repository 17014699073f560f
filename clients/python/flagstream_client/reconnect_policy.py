"""The reconnect policy every flagstream client follows, read from the shared table.

`reconnect-policy.json` (the same file the browser client ships) names, for each situation
a stream can end in, what to do next and how long to wait; this module only names the
situation and turns the table's delay kind into seconds. The load generator uses it too.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .backoff import Backoff

POLICY: dict[str, Any] = json.loads(resources.files(__package__).joinpath("reconnect-policy.json").read_text("utf-8"))
_KNOWN_STATUSES = (204, 401, 422, 429, 503)


@dataclass(frozen=True, slots=True)
class Rule:
    situation: str
    action: str  # one of POLICY["actions"]
    delay: str  # none | backoff | retry-or-backoff | backoff-after-first | poll-jitter
    resets_backoff: bool


def rule_for(situation: str) -> Rule:
    entry = POLICY["situations"][situation]
    return Rule(situation, entry["action"], entry["delay"], bool(entry["resets_backoff"]))


def situation_of_status(status: int) -> str:
    return f"status-{status}" if status in _KNOWN_STATUSES else "status-other"


def situation_of_ending(event: str, retry_ms: int | None = None) -> str | None:
    """The table's name for a final (or `reset`/`connected`) event; None for any other event."""
    if event == "shutdown":
        return "shutdown-without-retry" if retry_ms is None else "shutdown-with-retry"
    return event if event in POLICY["situations"] else None


def delay_seconds(
    rule: Rule,
    backoff: Backoff,
    *,
    told: float = 0.0,
    unauthorized_streak: int = 1,
    poll_jitter_window: float = 0.0,
) -> float:
    """How long to wait before acting; `told` is the server's Retry-After or `retry:`, in seconds."""
    if rule.delay == "none":
        return 0.0
    if rule.delay == "poll-jitter":
        return random.uniform(0, poll_jitter_window)
    if rule.delay == "backoff-after-first":
        return backoff.next_delay() if unauthorized_streak > 1 else 0.0
    if rule.delay == "retry-or-backoff":
        return backoff.next_delay(told)
    return backoff.next_delay()
