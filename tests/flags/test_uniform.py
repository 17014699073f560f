"""`flags.uniform` against the Unleash engine: whenever it claims a flag answers every user
alike, the engine answers each user that way, for definitions near the shapes it knows and
for the malformed ones the engine silently turns off."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from yggdrasil_engine.engine import UnleashEngine

from flags.uniform import uniform_enabled, uniform_variant

USERS = [f"user-{n}" for n in range(40)] + ["", "ünïcödé", "flagstream-uniformity-probe"]

CONSTRAINT = st.fixed_dictionaries(
    {
        "contextName": st.sampled_from(["userId", "sessionId", "appName"]),
        "operator": st.sampled_from(["IN", "NOT_IN", "STR_CONTAINS", "BOGUS", "NUM_EQ"]),
    },
    optional={
        "values": st.lists(st.sampled_from(["user-1", "user-2", "x"]) | st.integers(), max_size=3),
        "value": st.sampled_from(["abc", "1"]),
        "inverted": st.booleans(),
        "caseInsensitive": st.booleans(),
    },
)
PARAMETERS = st.fixed_dictionaries(
    {},
    optional={
        "rollout": st.sampled_from(["0", "50", "100", "0100", " 100", "abc"]) | st.integers(0, 100),
        "stickiness": st.sampled_from(["default", "userId", "sessionId", "custom"]),
        "groupId": st.sampled_from(["g", ""]) | st.integers(),
    },
)
VARIANT = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b"]), "weight": st.sampled_from([0, 1, 1000])},
    optional={
        "weightType": st.sampled_from(["variable", "fix"]),
        "stickiness": st.sampled_from(["default", "userId"]),
        "payload": st.sampled_from([{"type": "json", "value": '{"ping_interval": 5}'}, {"type": "string", "value": "x"}]),
        "overrides": st.lists(
            st.fixed_dictionaries({"contextName": st.just("userId"), "values": st.just(["user-1"])}), max_size=1
        ),
    },
)
ALLOWLIST_CONSTRAINT = st.fixed_dictionaries(
    {"contextName": st.just("userId"), "operator": st.just("IN"), "values": st.lists(st.sampled_from(["user-1", "x"]))},
    optional={"inverted": st.just(False), "caseInsensitive": st.just(False)},
)
WELL_FORMED = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["default", "flexibleRollout"]),
        "parameters": st.fixed_dictionaries(
            {"rollout": st.sampled_from(["100", "100", "0", "50"])},
            optional={"stickiness": st.sampled_from(["default", "userId"]), "groupId": st.just("f")},
        ),
        "constraints": st.lists(ALLOWLIST_CONSTRAINT, max_size=1),
    },
)
ANY_STRATEGY = st.fixed_dictionaries(
    {"name": st.sampled_from(["default", "flexibleRollout", "userWithId", "unknownStrategy"])},
    optional={
        "parameters": PARAMETERS,
        "constraints": st.lists(CONSTRAINT, max_size=2),
        "segments": st.lists(st.integers(1, 2), max_size=1),
        "variants": st.lists(VARIANT, max_size=1),
        "disabled": st.booleans(),
    },
)
STRATEGY = WELL_FORMED | ANY_STRATEGY
FEATURE = st.fixed_dictionaries(
    {"name": st.just("f"), "enabled": st.booleans(), "strategies": st.lists(STRATEGY, max_size=3)},
    optional={
        "variants": st.lists(VARIANT, min_size=1, max_size=1) | st.lists(VARIANT, max_size=2),
        "dependencies": st.lists(st.fixed_dictionaries({"feature": st.just("parent")}), max_size=1),
    },
)


def engine_with(feature: dict) -> UnleashEngine | None:
    engine = UnleashEngine()
    try:
        engine.take_state(json.dumps({"version": 2, "features": [feature]}))
    except Exception:
        return None  # a state the engine refuses never reaches a gate
    return engine


@settings(max_examples=800, deadline=None)
@given(FEATURE)
def test_what_is_claimed_alike_for_everyone_is_what_the_engine_answers_every_user(feature: dict) -> None:
    enabled, variant = uniform_enabled(feature), uniform_variant(feature)
    engine = engine_with(feature)
    if engine is None:
        return
    for user in USERS:
        if enabled is not None:
            assert engine.is_enabled("f", {"userId": user}).is_enabled is enabled
        if variant is not None:
            answer = engine.get_variant("f", {"userId": user}).variant
            assert answer.enabled is variant["enabled"]
            if variant["enabled"]:
                assert (answer.name, answer.payload) == (variant["name"], variant.get("payload"))


def rollout(percent: str, **strategy: object) -> dict:
    parameters = {"rollout": percent, "stickiness": "userId", "groupId": "f"}
    return {"name": "flexibleRollout", "parameters": parameters, "constraints": [], **strategy}


ALLOWLIST = {
    "name": "flexibleRollout",
    "parameters": {"rollout": "100", "stickiness": "userId", "groupId": "f"},
    "constraints": [{"contextName": "userId", "operator": "IN", "values": ["staff-1"], "inverted": False}],
}


def test_the_shapes_a_rollout_goes_through_are_recognised() -> None:
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [rollout("100")]}) is True
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [ALLOWLIST, rollout("100")]}) is True
    assert uniform_enabled({"name": "f", "enabled": False, "strategies": [rollout("30")]}) is False
    # per user: a partial rollout, an allowlist alone, a dependency
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [ALLOWLIST, rollout("30")]}) is None
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [ALLOWLIST]}) is None
    dependent = {"name": "f", "enabled": True, "strategies": [rollout("100")], "dependencies": [{"feature": "p"}]}
    assert uniform_enabled(dependent) is None


def test_a_strategy_the_engine_cannot_compile_keeps_the_flag_per_user() -> None:
    bogus = {"name": "default", "constraints": [{"contextName": "userId", "operator": "BOGUS", "values": ["x"]}]}
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [bogus, rollout("100")]}) is None
    assert uniform_enabled({"name": "f", "enabled": True, "strategies": [rollout("100", segments=[7])]}) is None
