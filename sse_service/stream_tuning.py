"""One user's stream tuning: each knob of the `sse-tuning` flag variant, else its setting.

Resolved when a stream opens and again when the flags refresh (`Services.reevaluate`), by the
same rule: a knob that is None means "use the setting".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flags.types import Knobs

    from .config import Settings
    from .connection import Connection


@dataclass(frozen=True, slots=True)
class StreamTuning:
    ping_interval: float
    batch_window: float  # seconds
    collapse_window: float  # seconds: the debounce window of collapse-keyed events
    max_connections_per_user: int

    @classmethod
    def resolve(cls, settings: Settings, knobs: Knobs) -> StreamTuning:
        batch_ms = knobs.batch_window_ms if knobs.batch_window_ms is not None else settings.batch_window_ms
        collapse_ms = knobs.collapse_window_ms if knobs.collapse_window_ms is not None else settings.collapse_window_ms
        return cls(
            # a ping interval or connection limit of 0 is no tuning: the setting applies
            ping_interval=knobs.ping_interval or settings.ping_interval,
            # (no window: the shared constant 0.0, not a new float per stream)
            batch_window=batch_ms / 1000 if batch_ms else 0.0,
            collapse_window=collapse_ms / 1000 if collapse_ms else 0.0,
            max_connections_per_user=knobs.max_connections_per_user or settings.max_connections_per_user,
        )

    def apply(self, connection: Connection) -> None:
        """Retune an open stream (the connection limit applies to the next stream only)."""
        connection.ping_interval = self.ping_interval
        connection.batch_window = self.batch_window
        connection.collapse_window = self.collapse_window
