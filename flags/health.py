"""Refresh outcomes to FlagHealth: freshness, outages, last error, logged once per outage."""

from __future__ import annotations

import logging
import threading
import time

from flags.types import FlagFreshness, FlagHealth

LOGGER = logging.getLogger("flags")


class RefreshHealth:
    """Thread-safe: UnleashClient reports from its own threads, the service reads on the loop."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._last_success: float | None = None
        self._failing = False
        self._failures_in_outage = 0
        self._error: str | None = None
        self._outages = 0

    def succeeded(self) -> None:
        with self._lock:
            self._last_success = time.time()
            recovered, failures = self._failing, self._failures_in_outage
            self._failing = False
            self._failures_in_outage = 0
        if recovered:
            LOGGER.warning("flags from %s refresh again after %d failed refresh(es)", self._source, failures)

    def failed(self, error: str) -> None:
        with self._lock:
            self._error = error
            self._failures_in_outage += 1
            started = not self._failing
            self._failing = True
            if started:
                self._outages += 1
        if started:
            LOGGER.warning("flags from %s cannot refresh (%s); keeping the last known state", self._source, error)

    def snapshot(self, state_known: bool) -> FlagHealth:
        with self._lock:
            if not state_known:
                freshness = FlagFreshness.UNKNOWN
            elif self._failing or self._last_success is None:
                freshness = FlagFreshness.STALE
            else:
                freshness = FlagFreshness.FRESH
            return FlagHealth(
                freshness=freshness,
                source=self._source,
                last_refresh=self._last_success,
                error=self._error,
                outages=self._outages,
            )
