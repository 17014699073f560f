"""Property tests of the publish validator: any body is notifications or a 413/422 naming
fields, never another exception; accepted data reads back as the same JSON value, and
poison (NaN, Infinity, lone surrogates, nesting past MAX_DATA_DEPTH) is never accepted."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sse_service.publishing import PublishInvalid, parse_publish

MAX_DEPTH = 4
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=8)  # surrogates too
SCALARS = st.none() | st.booleans() | st.integers() | st.integers(min_value=2**64, max_value=2**90) | st.floats() | ANY_TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=12
)
NOTIFICATION = st.fixed_dictionaries(
    {"user_id": st.text(min_size=1, max_size=10), "data": VALUES},
    optional={"event": st.sampled_from(["n", "order.shipped", "bad event"]), "idempotency_key": ANY_TEXT},
)
DOCUMENTS = NOTIFICATION | st.fixed_dictionaries({"notifications": st.lists(NOTIFICATION, min_size=1, max_size=4)})


def is_poison(value, depth: int = 0) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return _surrogate(value)
    if isinstance(value, (list, dict)):
        if depth + 1 > MAX_DEPTH:
            return True
        children = list(value.values()) + [k for k in value] if isinstance(value, dict) else value
        return any(is_poison(child, depth + 1) for child in children)
    return False


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def parse(body: bytes):
    return parse_publish(body, max_batch=10, max_payload_bytes=4096, max_data_depth=MAX_DEPTH)


def assert_refusal_is_well_formed(exc: PublishInvalid) -> None:
    assert exc.status in (413, 422) and exc.problems
    json.dumps(exc.body(), ensure_ascii=False).encode()  # no lone surrogate in any message
    assert all(p.field and len(p.field) < 100 for p in exc.problems)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_any_document_is_accepted_as_the_same_json_or_refused_naming_fields(document) -> None:
    body = json.dumps(document, ensure_ascii=True, allow_nan=True).encode()
    items = document.get("notifications", [document])
    try:
        notifications = parse(body)
    except PublishInvalid as exc:
        assert_refusal_is_well_formed(exc)
        return
    for notification, item in zip(notifications, items, strict=True):
        assert not is_poison(item["data"]) and not _surrogate(item.get("idempotency_key", ""))
        notification.data_json.encode()  # valid UTF-8 text
        assert json.loads(notification.data_json) == item["data"]


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_poisoned_data_is_always_422_naming_data(data) -> None:
    body = json.dumps({"user_id": "u", "data": data}, ensure_ascii=True, allow_nan=True).encode()
    try:
        parse(body)
    except PublishInvalid as exc:
        assert_refusal_is_well_formed(exc)
        if is_poison(data):
            assert exc.status == 422 and {p.field for p in exc.problems} == {"data"}
        return
    assert not is_poison(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_notifications_or_a_refusal(body: bytes) -> None:
    try:
        parse(body)
    except PublishInvalid as exc:
        assert_refusal_is_well_formed(exc)


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=20_000), st.booleans())
@settings(max_examples=20, deadline=None)
def test_nesting_at_any_depth_is_refused_naming_the_notification_s_data(depth: int, batch: bool) -> None:
    data = b"[" * depth + b"]" * depth
    body = (
        (b'{"notifications": [{"user_id": "u", "data": 1}, {"user_id": "u", "data": ' + data + b"}]}")
        if batch
        else (b'{"user_id": "u", "data": ' + data + b"}")
    )
    try:
        parse(body)
    except PublishInvalid as exc:
        assert [p.field for p in exc.problems] == (["notifications[1].data"] if batch else ["data"])
        assert "deeper" in exc.problems[0].message
    else:
        raise AssertionError("accepted")
