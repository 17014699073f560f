"""The `sse-tuning` variant payload: JSON that may override four stream settings per user."""

from __future__ import annotations

import json
import math
from typing import Any

from flags.types import Knobs, KnobsPayloadError

# name -> (accepts floats, lowest, highest); bounds are inclusive.
KNOB_BOUNDS: dict[str, tuple[bool, float, float]] = {
    "max_connections_per_user": (False, 1, 100),
    "ping_interval": (True, 1, 300),
    "batch_window_ms": (False, 0, 1000),
    "collapse_window_ms": (False, 0, 60_000),
}


def _checked(name: str, value: Any) -> int | float:
    accepts_float, low, high = KNOB_BOUNDS[name]
    # bool is an int in Python, but `true` is never a sensible connection count.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KnobsPayloadError(f"{name} must be a number, got {json.dumps(value)}")
    if not accepts_float and not isinstance(value, int):
        raise KnobsPayloadError(f"{name} must be a whole number, got {value}")
    if not math.isfinite(value) or not low <= value <= high:
        raise KnobsPayloadError(f"{name} must be within {low:g}..{high:g}, got {value}")
    return float(value) if accepts_float else int(value)


def parse_knobs(payload: dict[str, Any] | None) -> Knobs:
    """Turn an Unleash variant payload (``{"type": "json", "value": "..."}``) into Knobs.

    Raises KnobsPayloadError for anything that is not a JSON object of known, in-bounds
    knobs: a payload is applied whole or not at all.
    """
    if payload is None:
        return Knobs()
    if payload.get("type") != "json":
        raise KnobsPayloadError(f"payload type must be json, got {payload.get('type')!r}")
    try:
        document = json.loads(payload.get("value") or "")
    except (TypeError, json.JSONDecodeError) as error:
        raise KnobsPayloadError(f"payload is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise KnobsPayloadError("payload must be a JSON object")
    unknown = sorted(set(document) - set(KNOB_BOUNDS))
    if unknown:
        raise KnobsPayloadError(f"unknown knob(s): {', '.join(unknown)}")
    checked: dict[str, Any] = {name: _checked(name, value) for name, value in document.items()}
    return Knobs(**checked)
