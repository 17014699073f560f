"""Per-user decisions over an UnleashClient: rollout with fail-safe, and tuning knobs.

The Unleash engine costs tens of microseconds a question, so answers are kept per user
until the flag state changes (``reset``); a reconnect storm then costs a dict lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from flags.knobs import parse_knobs
from flags.types import FlagGateConfig, Knobs, KnobsPayloadError

LOGGER = logging.getLogger("flags")

# Enough for every user of one busy instance; past it the cache starts over rather than grow.
MAX_CACHED_USERS = 100_000
MAX_REMEMBERED_BAD_PAYLOADS = 1_000


class FlagClient(Protocol):
    """The part of UnleashClient used here."""

    def is_enabled(self, feature_name: str, context: dict[str, Any] | None = None) -> bool: ...
    def get_variant(self, feature_name: str, context: dict[str, Any] | None = None) -> dict[str, Any]: ...
    def feature_definitions(self) -> dict[str, Any]: ...


class UserDecisions:
    """Answers ``is_enabled``/``knobs`` for one flag state; ``reset`` when the state changes."""

    def __init__(self, config: FlagGateConfig) -> None:
        self._rollout_flag = config.rollout_flag
        self._tuning_flag = config.tuning_flag
        self._failsafe_enabled = config.failsafe == "on"
        self._report: Callable[[str, str], None] = config.on_evaluation or (lambda flag, result: None)
        self._client: FlagClient | None = None
        self._known_flags: frozenset[str] = frozenset()
        self._rollout: dict[str, tuple[bool, str]] = {}
        self._knobs: dict[str, Knobs] = {}
        self._bad_payloads: set[str] = set()

    def reset(self, client: FlagClient | None) -> None:
        """Use ``client``'s current state from now on (None: no state known)."""
        self._client = client
        self._known_flags = frozenset(client.feature_definitions()) if client is not None else frozenset()
        self._rollout = {}
        self._knobs = {}

    def is_enabled(self, user_id: str) -> bool:
        answer = self._rollout.get(user_id)
        if answer is None:
            answer = self._decide(user_id)
            if len(self._rollout) >= MAX_CACHED_USERS:
                self._rollout = {}
            self._rollout[user_id] = answer
        self._report(self._rollout_flag, answer[1])
        return answer[0]

    def _decide(self, user_id: str) -> tuple[bool, str]:
        client = self._client
        if client is None or self._rollout_flag not in self._known_flags:
            return self._failsafe_enabled, "fallback"
        enabled = client.is_enabled(self._rollout_flag, {"userId": user_id})
        return enabled, "enabled" if enabled else "disabled"

    def knobs(self, user_id: str) -> Knobs:
        knobs = self._knobs.get(user_id)
        if knobs is None:
            knobs = self._tune(user_id)
            if len(self._knobs) >= MAX_CACHED_USERS:
                self._knobs = {}
            self._knobs[user_id] = knobs
        return knobs

    def _tune(self, user_id: str) -> Knobs:
        client = self._client
        if client is None or self._tuning_flag not in self._known_flags:
            return Knobs()
        variant = client.get_variant(self._tuning_flag, {"userId": user_id})
        if not variant.get("enabled"):
            return Knobs()
        payload = variant.get("payload")
        try:
            return parse_knobs(payload)
        except KnobsPayloadError as error:
            self._log_bad_payload(variant.get("name", "?"), payload, error)
            return Knobs()

    def _log_bad_payload(self, variant: str, payload: object, error: KnobsPayloadError) -> None:
        # Logged once per distinct payload, not once per connecting user.
        key = f"{variant}\0{payload!r}"
        if key in self._bad_payloads:
            return
        if len(self._bad_payloads) >= MAX_REMEMBERED_BAD_PAYLOADS:
            self._bad_payloads.clear()
        self._bad_payloads.add(key)
        LOGGER.warning("ignoring %s variant %r: %s", self._tuning_flag, variant, error)
