"""Per-user decisions over an UnleashClient: rollout with fail-safe, and tuning knobs.

One question per connect (`decide`): the rollout flag, then, for a user in the rollout, the
tuning flag. A flag whose state answers every user alike (`flags.uniform`: switched off, at
100 %, one variant for all) is answered without the engine; otherwise the Unleash engine
costs tens of microseconds a question, so answers are kept per user until the flag state
changes (``reset``), and a reconnect storm costs a dict lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from flags.knobs import parse_knobs
from flags.listeners import ChangeListeners
from flags.types import Decision, FlagGateConfig, Knobs, KnobsPayloadError
from flags.uniform import uniform_enabled, uniform_variant

LOGGER = logging.getLogger("flags")

# Enough for every user of one busy instance; past it the cache starts over rather than grow.
MAX_CACHED_USERS = 100_000
MAX_REMEMBERED_BAD_PAYLOADS = 1_000
MAX_DISTINCT_ANSWERS = 1_000  # a state has a handful (in or out, one per variant payload)
# Asked once per flag state to confirm a uniform answer read from the definition.
PROBE_CONTEXT = {"userId": "flagstream-uniformity-probe"}

# (decision, what the evaluation metric reports: "enabled" | "disabled" | "fallback")
Answer = tuple[Decision, str]
OUTSIDE = Decision(False, Knobs())


class FlagClient(Protocol):
    """The part of UnleashClient used here."""

    def is_enabled(self, feature_name: str, context: dict[str, Any] | None = None) -> bool: ...
    def get_variant(self, feature_name: str, context: dict[str, Any] | None = None) -> dict[str, Any]: ...
    def feature_definitions(self) -> dict[str, Any]: ...


class UserDecisions:
    """Answers ``decide`` (and its halves ``is_enabled``/``knobs``) for one flag state;
    ``reset`` when the state changes."""

    def __init__(self, config: FlagGateConfig) -> None:
        self._rollout_flag = config.rollout_flag
        self._tuning_flag = config.tuning_flag
        self._failsafe_enabled = config.failsafe == "on"
        self._report: Callable[[str, str], None] = config.on_evaluation or (lambda flag, result: None)
        self._client: FlagClient | None = None
        self._known_flags: frozenset[str] = frozenset()
        self._answers: dict[str, Answer] = {}
        self._distinct: dict[Answer, Answer] = {}
        self._bad_payloads: set[str] = set()
        # What every user gets in this state, where the state makes it one and the same.
        self._uniform_rollout: tuple[bool, str] | None = (self._failsafe_enabled, "fallback")
        self._uniform_knobs: Knobs | None = Knobs()
        self._everyone: Answer | None = self._everyone_alike()

    def reset(self, client: FlagClient | None, features: Iterable[Mapping[str, Any]] = ()) -> None:
        """Use ``client``'s current state from now on (None: no state known); ``features``
        are the definitions it was given (an empty iterable: none read, ask the engine)."""
        self._client = client
        self._known_flags = frozenset(client.feature_definitions()) if client is not None else frozenset()
        self._answers = {}
        self._distinct = {}
        self._find_uniform(client, features)
        self._everyone = self._everyone_alike()

    def decide(self, user_id: str) -> Decision:
        decision, result = self._answer(user_id)
        self._report(self._rollout_flag, result)
        return decision

    def is_enabled(self, user_id: str) -> bool:
        return self.decide(user_id).enabled

    def knobs(self, user_id: str) -> Knobs:
        decision = self._answer(user_id)[0]
        # A user outside the rollout opens no stream; asked anyway, their variant answers.
        return decision.knobs if decision.enabled else self._tune(user_id)

    def _answer(self, user_id: str) -> Answer:
        answer = self._everyone
        if answer is not None:
            return answer
        answer = self._answers.get(user_id)
        if answer is None:
            answer = self._evaluate(user_id)
            if len(self._answers) >= MAX_CACHED_USERS:
                self._answers = {}
            self._answers[user_id] = answer
        return answer

    def _evaluate(self, user_id: str) -> Answer:
        enabled, result = self._rollout(user_id)
        answer = (Decision(True, self._tune(user_id)), result) if enabled else (OUTSIDE, result)
        # Users share the few distinct answers a state has: the cache holds references only.
        if len(self._distinct) >= MAX_DISTINCT_ANSWERS:
            self._distinct = {}
        return self._distinct.setdefault(answer, answer)

    def _rollout(self, user_id: str) -> tuple[bool, str]:
        if self._uniform_rollout is not None:
            return self._uniform_rollout
        client = self._client
        if client is None or self._rollout_flag not in self._known_flags:
            return self._failsafe_enabled, "fallback"
        enabled = client.is_enabled(self._rollout_flag, {"userId": user_id})
        return enabled, "enabled" if enabled else "disabled"

    def _tune(self, user_id: str) -> Knobs:
        if self._uniform_knobs is not None:
            return self._uniform_knobs
        client = self._client
        if client is None or self._tuning_flag not in self._known_flags:
            return Knobs()
        return self._knobs_of(client.get_variant(self._tuning_flag, {"userId": user_id}))

    def _knobs_of(self, variant: Mapping[str, Any]) -> Knobs:
        if not variant.get("enabled"):
            return Knobs()
        payload = variant.get("payload")
        try:
            return parse_knobs(payload)
        except KnobsPayloadError as error:
            self._log_bad_payload(variant.get("name", "?"), payload, error)
            return Knobs()

    def _find_uniform(self, client: FlagClient | None, features: Iterable[Mapping[str, Any]]) -> None:
        """Everyone's rollout answer and knobs, for whichever this state makes one and the same.

        Read from the definitions, then confirmed by one engine question each: an engine
        that evaluates otherwise (a state it did not take) keeps the per-user answers."""
        self._uniform_rollout, self._uniform_knobs = None, None
        by_name = {feature.get("name"): feature for feature in features if isinstance(feature, Mapping)}
        if client is None or self._rollout_flag not in self._known_flags:
            self._uniform_rollout = (self._failsafe_enabled, "fallback")
        else:
            enabled = uniform_enabled(by_name.get(self._rollout_flag))
            if enabled is not None and client.is_enabled(self._rollout_flag, dict(PROBE_CONTEXT)) is enabled:
                self._uniform_rollout = (enabled, "enabled" if enabled else "disabled")
        if client is None or self._tuning_flag not in self._known_flags:
            self._uniform_knobs = Knobs()
        else:
            variant = uniform_variant(by_name.get(self._tuning_flag))
            if variant is not None and _same_variant(client.get_variant(self._tuning_flag, dict(PROBE_CONTEXT)), variant):
                self._uniform_knobs = self._knobs_of(variant)

    def _everyone_alike(self) -> Answer | None:
        if self._uniform_rollout is None:
            return None
        enabled, result = self._uniform_rollout
        if not enabled:
            return OUTSIDE, result
        return (Decision(True, self._uniform_knobs), result) if self._uniform_knobs is not None else None

    def _log_bad_payload(self, variant: str, payload: object, error: KnobsPayloadError) -> None:
        # Logged once per distinct payload, not once per connecting user.
        key = f"{variant}\0{payload!r}"
        if key in self._bad_payloads:
            return
        if len(self._bad_payloads) >= MAX_REMEMBERED_BAD_PAYLOADS:
            self._bad_payloads.clear()
        self._bad_payloads.add(key)
        LOGGER.warning("ignoring %s variant %r: %s", self._tuning_flag, variant, error)


def _same_variant(asked: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return bool(asked.get("enabled")) == expected["enabled"] and (
        not expected["enabled"] or (asked.get("name"), asked.get("payload")) == (expected["name"], expected.get("payload"))
    )


class AnsweringFromDecisions:
    """What both gates answer per user, from their `UserDecisions`, and who they tell about
    flag changes (their `ChangeListeners`): one copy for the file and the Unleash gate."""

    _decisions: UserDecisions
    _listeners: ChangeListeners

    def decide(self, user_id: str) -> Decision:
        return self._decisions.decide(user_id)

    def is_enabled(self, user_id: str) -> bool:
        return self._decisions.is_enabled(user_id)

    def knobs(self, user_id: str) -> Knobs:
        return self._decisions.knobs(user_id)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.subscribe(listener)
