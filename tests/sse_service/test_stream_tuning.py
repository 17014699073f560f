"""One rule for a stream's tuning, when it opens and when the flags refresh (knob, else setting)."""

from __future__ import annotations

from flags.types import Knobs
from sse_service.config import load_settings
from sse_service.connection import Connection
from sse_service.stream_tuning import StreamTuning

SETTINGS = load_settings(
    env={},
    overrides={
        "jwt_secret": "s" * 32,
        "ping_interval": 15,
        "batch_window_ms": 20,
        "collapse_window_ms": 0,
        "max_connections_per_user": 5,
    },
)


def test_no_knob_means_the_settings() -> None:
    assert StreamTuning.resolve(SETTINGS, Knobs()) == StreamTuning(15, 0.02, 0.0, 5)


def test_each_knob_overrides_its_setting_and_a_zero_window_is_a_real_choice() -> None:
    knobs = Knobs(max_connections_per_user=2, ping_interval=5, batch_window_ms=0, collapse_window_ms=200)
    assert StreamTuning.resolve(SETTINGS, knobs) == StreamTuning(5, 0.0, 0.2, 2)


def test_a_zero_ping_interval_or_connection_limit_knob_leaves_the_setting() -> None:
    assert StreamTuning.resolve(SETTINGS, Knobs(max_connections_per_user=0, ping_interval=0)) == StreamTuning(15, 0.02, 0.0, 5)


def test_apply_retunes_an_open_stream() -> None:
    connection = Connection("u", queue_size=10, ping_interval=15, batch_window=0.02, expires_at=None, now=0.0)
    StreamTuning(5, 0.0, 0.2, 2).apply(connection)
    assert (connection.ping_interval, connection.batch_window, connection.collapse_window) == (5, 0.0, 0.2)
