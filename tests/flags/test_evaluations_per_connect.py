"""How many questions a connect puts to the Unleash engine: one `decide` per connect, at most
one engine evaluation per flag that does not answer everyone alike, none for a repeat."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from flags.evaluation import UserDecisions
from flags.file_gate import offline_client
from flags.flags_file import DEFAULT_FLAGS_FILE, parse_flags_text, read_flags_file
from flags.knobs import parse_knobs
from flags.types import Decision, FlagGateConfig, Knobs
from tests.flags.expected import expected_users
from tests.flags.flag_documents import document, rollout_feature, tuning_feature

USERS = [f"user-{n}" for n in range(200)]
TUNED = json.dumps({"ping_interval": 7})


class CountingClient:
    """An UnleashClient that counts the evaluations asked of it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def is_enabled(self, feature_name: str, context: dict[str, Any] | None = None) -> bool:
        self.calls[f"is_enabled {feature_name}"] += 1
        return bool(self._client.is_enabled(feature_name, context))

    def get_variant(self, feature_name: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls[f"get_variant {feature_name}"] += 1
        return dict(self._client.get_variant(feature_name, context))

    def feature_definitions(self) -> dict[str, Any]:
        return dict(self._client.feature_definitions())


def decisions_over(text: str) -> tuple[UserDecisions, CountingClient, list[tuple[str, str]]]:
    """Decisions over a fresh state, the client's counts cleared after the state's own checks."""
    flags = parse_flags_text(Path("flags.json"), text)
    reported: list[tuple[str, str]] = []
    config = FlagGateConfig(on_evaluation=lambda flag, result: reported.append((flag, result)))
    client = CountingClient(offline_client(flags, config))
    decisions = UserDecisions(config)
    decisions.reset(client, flags.features)
    assert sum(client.calls.values()) <= 2, "at most one check per flag per state"
    client.calls.clear()
    return decisions, client, reported


def test_the_shipped_defaults_answer_every_connect_without_the_engine() -> None:
    decisions, client, reported = decisions_over(read_flags_file(DEFAULT_FLAGS_FILE).text)
    assert {decisions.decide(user) for user in USERS} == {Decision(True, Knobs())}
    assert client.calls == Counter()
    assert reported == [("sse-delivery", "enabled")] * len(USERS)  # the metric still counts each one


def test_a_partial_rollout_asks_the_engine_once_per_new_user_and_never_for_a_repeat() -> None:
    decisions, client, reported = decisions_over(document(rollout_feature(percent=25)))
    answers = {user: decisions.decide(user) for user in USERS}
    assert client.calls == Counter({"is_enabled sse-delivery": len(USERS)})
    assert {user for user, answer in answers.items() if answer.enabled} == expected_users("sse-delivery", USERS, 25)
    assert all(answer.knobs == Knobs() for answer in answers.values())
    client.calls.clear()
    assert [decisions.decide(user) for user in USERS] == list(answers.values())
    assert client.calls == Counter()
    inside = len(expected_users("sse-delivery", USERS, 25))
    assert Counter(reported) == Counter(
        {("sse-delivery", "enabled"): 2 * inside, ("sse-delivery", "disabled"): 2 * (200 - inside)}
    )


def test_one_variant_for_everyone_at_100_percent_needs_no_engine_question() -> None:
    decisions, client, _ = decisions_over(document(rollout_feature(), tuning_feature(TUNED)))
    assert {decisions.decide(user) for user in USERS} == {Decision(True, Knobs(ping_interval=7.0))}
    assert client.calls == Counter()


def test_per_user_variants_are_asked_only_for_users_in_the_rollout() -> None:
    tuning = tuning_feature(TUNED)
    tuning["variants"].append({**tuning["variants"][0], "name": "other", "payload": {"type": "json", "value": "{}"}})
    decisions, client, _ = decisions_over(document(rollout_feature(percent=25), tuning))
    for user in USERS:
        decisions.decide(user)
    inside = len(expected_users("sse-delivery", USERS, 25))
    assert client.calls == Counter({"is_enabled sse-delivery": len(USERS), "get_variant sse-tuning": inside})


def test_decide_answers_what_the_engine_answers_for_each_flag() -> None:
    two_variants = tuning_feature(TUNED)
    two_variants["variants"].append({**two_variants["variants"][0], "name": "other", "payload": {"type": "json", "value": "{}"}})
    states = [
        document(rollout_feature(percent=40), two_variants),
        document(rollout_feature(), two_variants),
        document(rollout_feature(percent=40), tuning_feature(TUNED)),
        document(rollout_feature(enabled=False), tuning_feature(TUNED)),
        document(rollout_feature()),
    ]
    for text in states:
        decisions, _, _ = decisions_over(text)
        engine = offline_client(parse_flags_text(Path("flags.json"), text), FlagGateConfig())
        for user in USERS:
            enabled = engine.is_enabled("sse-delivery", {"userId": user})
            variant = engine.get_variant("sse-tuning", {"userId": user})
            knobs = parse_knobs(variant.get("payload")) if variant.get("enabled") else Knobs()
            assert decisions.decide(user) == Decision(enabled, knobs if enabled else Knobs())
            assert (decisions.is_enabled(user), decisions.knobs(user)) == (enabled, knobs)


def test_users_with_the_same_answer_share_one_cached_answer() -> None:
    decisions, _, _ = decisions_over(document(rollout_feature(percent=50), tuning_feature(TUNED)))
    answers = [decisions.decide(user) for user in USERS]
    assert len({id(answer) for answer in answers}) == 2  # in (tuned) or out, however many users
