"""Turns UnleashClient's per-poll failure logging into refresh outcomes for one gate.

UnleashClient logs a full traceback on every failed poll (every few seconds while Unleash
is down), urllib3 adds a retry warning, and neither offers another failure signal. This
filter, attached to both loggers, takes the records raised on one gate's own threads,
reports fetch failures to that gate and drops them, so the gate logs once per outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

UNLEASH_LOGGER = logging.getLogger("UnleashClient")
URLLIB3_LOGGER = logging.getLogger("urllib3.connectionpool")

FETCH_FAILED = "unleash client feature fetch failed due to exception"
GENERIC_FETCH_FAILURE = "Unleash Client feature fetch failed!"  # raised after an HTTP error status
UNLEASH_NOISE = (  # compared case-insensitively: the SDK is not consistent about "Client"
    "unleash client does not have cached features",
    "unleash client registration failed",
    "unleash client metrics submission",
    "unleash client feature fetch failed",
)
URLLIB3_NOISE = ("retrying",)


class UnleashFailureFilter(logging.Filter):
    def __init__(self, thread_prefix: str, on_fetch_failed: Callable[[str], None]) -> None:
        super().__init__()
        self._thread_prefix = thread_prefix
        self._on_fetch_failed = on_fetch_failed

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(self._thread_prefix):
            return True
        message = str(record.msg).lower()
        if record.name.startswith("urllib3"):
            return not message.startswith(URLLIB3_NOISE)
        if not message.startswith(UNLEASH_NOISE):
            return True
        # HTTP error answers are reported by the gate's response hook, which sees the
        # status even when this logger's level hides the warning naming it.
        if message.startswith(FETCH_FAILED):
            cause = str(record.args[0]) if isinstance(record.args, tuple) and record.args else record.getMessage()
            if cause != GENERIC_FETCH_FAILURE:
                self._on_fetch_failed(cause.splitlines()[0][:300])
        return False

    def attach(self) -> None:
        UNLEASH_LOGGER.addFilter(self)
        URLLIB3_LOGGER.addFilter(self)

    def detach(self) -> None:
        UNLEASH_LOGGER.removeFilter(self)
        URLLIB3_LOGGER.removeFilter(self)
