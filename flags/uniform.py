"""Flag states that answer every user alike, read from the feature definition.

A connect then needs no engine evaluation at all: the shipped defaults (`sse-delivery` at
100 %, `sse-tuning` off), a finished rollout, a flag switched off. Only shapes whose
evaluation is known exactly are recognised: the engine treats a feature it cannot compile
(an unknown operator in any strategy, a missing segment, a number where it wants a string)
as off for everyone, without a warning, so every strategy must be of a known shape.
Anything else answers None: "ask the engine per user". Pinned against the engine in
tests/flags/test_uniform.py; the gate checks each claim against the engine once per flag
state as well (`UserDecisions.reset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The context keys the engine finds in every evaluation of ours (`{"userId": …}`).
_STICKINESS_ALWAYS_PRESENT = (None, "default", "userId")


def _allowlist_shaped(constraint: Any) -> bool:
    return (
        isinstance(constraint, Mapping)
        and set(constraint) <= {"contextName", "operator", "values", "inverted", "caseInsensitive"}
        and constraint.get("contextName") == "userId"
        and constraint.get("operator") == "IN"
        and isinstance(constraint.get("values"), list)
        and all(isinstance(value, str) for value in constraint["values"])
        and constraint.get("inverted") in (None, False)
        and constraint.get("caseInsensitive") in (None, False)
    )


def _percent(parameters: Mapping[str, Any]) -> int | None:
    rollout = parameters.get("rollout")
    if not isinstance(rollout, str) or not rollout.isdigit() or str(int(rollout)) != rollout or int(rollout) > 100:
        return None
    return int(rollout)


def _known_strategy(strategy: Any) -> bool:
    if not isinstance(strategy, Mapping) or strategy.get("segments") or strategy.get("variants"):
        return False
    if strategy.get("disabled") not in (None, False):
        return False
    constraints = strategy.get("constraints") or []
    if not isinstance(constraints, list) or not all(_allowlist_shaped(c) for c in constraints):
        return False
    parameters = strategy.get("parameters") or {}
    # any parameter that is not a string makes the whole flag off (the engine's parameter type)
    if not isinstance(parameters, Mapping) or not all(isinstance(value, str) for value in parameters.values()):
        return False
    if strategy.get("name") == "default":
        return True
    return (
        strategy.get("name") == "flexibleRollout"
        and _percent(parameters) is not None
        and parameters.get("stickiness") in _STICKINESS_ALWAYS_PRESENT
    )


def _always_on(strategy: Mapping[str, Any]) -> bool:
    if strategy.get("constraints"):
        return False
    return strategy.get("name") == "default" or _percent(strategy.get("parameters") or {}) == 100


def uniform_enabled(feature: Mapping[str, Any] | None) -> bool | None:
    """True/False when ``feature`` is on/off for every user; None when it may differ."""
    if feature is None:
        return None
    if feature.get("enabled") is False:
        return False
    if feature.get("enabled") is not True or feature.get("dependencies"):
        return None
    strategies = feature.get("strategies")
    if not isinstance(strategies, list) or not strategies or not all(_known_strategy(s) for s in strategies):
        return None
    return True if any(_always_on(s) for s in strategies) else None


def uniform_variant(feature: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The variant every user gets, shaped as ``UnleashClient.get_variant`` answers it, or None.

    Known alike for everyone: the flag switched off (no variant: the settings apply), or on
    for everyone with exactly one variant of some weight and no overrides.
    """
    enabled = uniform_enabled(feature)
    if enabled is None or feature is None:
        return None
    if enabled is False:
        return {"name": "disabled", "enabled": False}
    variants = feature.get("variants")
    if not isinstance(variants, list) or len(variants) != 1 or not isinstance(variants[0], Mapping):
        return None
    variant = variants[0]
    name, payload, weight = variant.get("name"), variant.get("payload"), variant.get("weight")
    if variant.get("overrides") or not isinstance(name, str) or not isinstance(payload, (Mapping, type(None))):
        return None
    if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:  # the engine picks none at 0
        return None
    return {"name": name, "enabled": True, **({"payload": dict(payload)} if payload is not None else {})}
