"""Turns UnleashClient's per-poll failure logging into refresh outcomes for one gate.

UnleashClient logs a full traceback on every failed poll (every few seconds while Unleash
is down) and has no other failure signal. This filter, attached to its logger, takes the
records raised on one gate's own threads, reports fetch failures to that gate, and drops
them, so the gate can log once per outage instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

UNLEASH_LOGGER = logging.getLogger("UnleashClient")

FETCH_FAILED_STATUS = "Unleash Client feature fetch failed due to unexpected HTTP status code"
FETCH_FAILED = "Unleash Client feature fetch failed due to exception"
GENERIC_FETCH_FAILURE = "Unleash Client feature fetch failed!"  # raised after a status failure
NOISE = (
    "Unleash Client does not have cached features",
    "Unleash Client registration failed",
    "Unleash Client metrics submission",
    "Unleash Client feature fetch failed",
)


class UnleashFailureFilter(logging.Filter):
    def __init__(self, thread_prefix: str, on_fetch_failed: Callable[[str], None]) -> None:
        super().__init__()
        self._thread_prefix = thread_prefix
        self._on_fetch_failed = on_fetch_failed

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(self._thread_prefix):
            return True
        message = str(record.msg)
        if not message.startswith(NOISE):
            return True
        if message.startswith(FETCH_FAILED_STATUS):
            self._on_fetch_failed(f"HTTP {record.args[0] if record.args else '?'} from Unleash")
        elif message.startswith(FETCH_FAILED):
            cause = str(record.args[0]) if record.args else record.getMessage()
            if cause != GENERIC_FETCH_FAILURE:
                self._on_fetch_failed(cause.splitlines()[0][:300])
        return False

    def attach(self) -> None:
        UNLEASH_LOGGER.addFilter(self)

    def detach(self) -> None:
        UNLEASH_LOGGER.removeFilter(self)
