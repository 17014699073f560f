"""The typed fast path accepts only what the general validator accepts, as the same
notifications: for any batch body, `valid_batch` is None or equal to `parse_general`."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sse_service.publish_fast_path import valid_batch
from sse_service.publishing import PublishInvalid, parse_general, parse_publish_request

MAX_DEPTH, MAX_BATCH, MAX_PAYLOAD, MAX_RECIPIENTS = 4, 6, 64, 5
LIMITS = (MAX_BATCH, MAX_PAYLOAD, MAX_RECIPIENTS, MAX_DEPTH)
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=6)  # surrogates too
NAMES = st.sampled_from(["n", "order.shipped", "bad event", "", "x" * 65]) | ANY_TEXT
KEYS = st.sampled_from(["k1", "k2", "a:b", "bad key", "x" * 65, "x" * 201]) | st.just("") | ANY_TEXT | st.none() | st.integers()
SCALARS = st.none() | st.booleans() | st.integers() | st.integers(min_value=2**64, max_value=2**70) | st.floats() | ANY_TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=10
)
USER_IDS = st.sampled_from(["u1", "u2", "", "a\x00b", "é", "x" * 257]) | ANY_TEXT | st.integers() | st.none()
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "user_id": USER_IDS,
        "user_ids": st.lists(USER_IDS, max_size=2),
        "broadcast": st.booleans(),
        "data": VALUES,
        "event": NAMES | st.none(),
        "idempotency_key": KEYS,
        "collapse_key": KEYS,
        "other": st.integers(),
    },
)
FIELDS = {
    "user_id": USER_IDS,
    "user_ids": st.lists(USER_IDS, max_size=2),
    "broadcast": st.booleans(),
    "data": VALUES | st.just("x" * 70) | st.just([[[[[1]]]]]) | st.just({"a": {"b": {"c": {"d": 1}}}}),
    "event": NAMES | st.none(),
    "idempotency_key": KEYS,
    "collapse_key": KEYS,
    "other": st.integers(),
}


@st.composite
def nearly_valid(draw: st.DrawFn) -> dict[str, object]:
    """A valid per-user notification with at most one field set to anything: one rule decides."""
    item: dict[str, object] = {"user_id": draw(st.sampled_from(["u1", "u2", "ü"])), "data": draw(st.integers(0, 9))}
    if draw(st.booleans()):
        item["idempotency_key"] = draw(st.sampled_from(["k1", "k2", "k3"]))
    name = draw(st.sampled_from([*FIELDS, None]))
    if name is not None:
        item[name] = draw(FIELDS[name])
    return item


BODIES = (
    st.fixed_dictionaries({"notifications": st.lists(nearly_valid(), min_size=1, max_size=MAX_BATCH + 1)})
    | st.fixed_dictionaries({"notifications": st.lists(ITEM | nearly_valid(), max_size=7)})
    | ITEM
)


def general(body: bytes):
    try:
        return parse_general(body, *LIMITS).notifications
    except PublishInvalid:
        return None


@settings(max_examples=1000, deadline=None)
@given(BODIES)
def test_the_fast_path_accepts_only_what_the_general_path_accepts_as_the_same(document) -> None:
    body = json.dumps(document, ensure_ascii=True, allow_nan=True).encode()
    fast = valid_batch(body, *LIMITS)
    if fast is not None:
        assert fast == general(body)


def test_a_valid_batch_takes_the_fast_path_and_is_refused_whole_by_neither() -> None:
    items = [{"user_id": f"u{i}", "event": "n", "data": {"i": i}, "idempotency_key": f"k{i}"} for i in range(3)]
    body = json.dumps({"notifications": items}).encode()
    fast = valid_batch(body, *LIMITS)
    assert fast is not None and fast == general(body)
    assert [n.data_json for n in fast] == ['{"i":0}', '{"i":1}', '{"i":2}']
    request = parse_publish_request(body, max_batch=MAX_BATCH, max_payload_bytes=MAX_PAYLOAD)
    assert request.field(2, "idempotency_key") == "notifications[2].idempotency_key"


def test_refusals_still_name_their_fields() -> None:
    items = [{"user_id": "u1", "data": 1}, {"user_id": "u2", "data": 1, "idempotency_key": ""}]
    body = json.dumps({"notifications": items}).encode()
    assert valid_batch(body, *LIMITS) is None
    try:
        parse_publish_request(body, max_batch=MAX_BATCH, max_payload_bytes=MAX_PAYLOAD)
    except PublishInvalid as exc:
        assert [p.field for p in exc.problems] == ["notifications[1].idempotency_key"]
    else:
        raise AssertionError("an empty idempotency key was accepted")


def test_a_batch_over_the_recipient_limit_is_left_to_the_general_path() -> None:
    items = [{"user_id": f"u{i}", "data": i} for i in range(MAX_RECIPIENTS + 1)]
    body = json.dumps({"notifications": items}).encode()
    assert valid_batch(body, *LIMITS) is None
    assert general(body) is None
