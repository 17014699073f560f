"""The SSE encoder: no payload can break the framing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_service.sse import ServerSentEvent, escape_unicode_breaks, event_block


def parse(stream: bytes) -> list[dict[str, str]]:
    """A WHATWG-conformant reader for the fields we emit (data, event, id, retry)."""
    events, current, data = [], {}, []
    for line in stream.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if data or current:
                if data:
                    current["data"] = "\n".join(data)
                events.append(current)
            current, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            current[name] = value
    return events


@given(st.text())
def test_any_text_payload_round_trips_as_one_event(payload: str) -> None:
    encoded = ServerSentEvent(data=payload, event="notification", id="1-2").encode()
    [event] = parse(encoded)
    expected = escape_unicode_breaks(payload.replace("\r\n", "\n").replace("\r", "\n"))
    assert event == {"event": "notification", "id": "1-2", "data": expected}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_any_json_payload_arrives_unchanged(value) -> None:
    text = json.dumps(value, ensure_ascii=False)
    [event] = parse(ServerSentEvent(data=text, event="n", id="3-4").encode() + ServerSentEvent(data="{}", event="next").encode())[
        :1
    ]
    assert json.loads(event["data"]) == value


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb"])
def test_line_breaks_in_event_or_id_are_refused(field: str, bad: str) -> None:
    with pytest.raises(ValueError):
        ServerSentEvent(data="x", **{field: bad}).encode()


def test_retry_and_comment_blocks() -> None:
    assert ServerSentEvent(retry=1500, event="connected", data="{}").encode() == b"retry: 1500\nevent: connected\ndata: {}\n\n"
    assert ServerSentEvent(comment="keep\nalive").encode() == b": keep\n: alive\n\n"


def parse_with_splitlines(stream: bytes) -> list[dict[str, str]]:
    """What a reader built on `str.splitlines()` (httpx-sse before 0.4.3) makes of a stream."""
    return parse("\n".join(stream.decode().splitlines()).encode() + b"\n")


UNICODE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
TEXT_WITH_BREAKS = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(UNICODE_BREAKS + "\r\n"))
JSON_WITH_BREAKS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT_WITH_BREAKS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT_WITH_BREAKS, inner, max_size=4),
    max_leaves=20,
)


@given(JSON_WITH_BREAKS)
def test_a_splitlines_reader_and_a_whatwg_reader_read_the_same_json_event(value) -> None:
    encoded = ServerSentEvent(data=json.dumps(value, ensure_ascii=False), event="n", id="5-6").encode()
    assert not any(ch in encoded.decode() for ch in "\x85\u2028\u2029")
    [whatwg] = parse(encoded)
    [split] = parse_with_splitlines(encoded)
    assert whatwg == split
    assert json.loads(split["data"]) == value


@given(TEXT_WITH_BREAKS)
def test_a_comment_never_becomes_a_field_for_either_reader(comment: str) -> None:
    encoded = ServerSentEvent(comment=comment).encode() + ServerSentEvent(data="{}", event="after").encode()
    assert parse(encoded) == parse_with_splitlines(encoded) == [{"event": "after", "data": "{}"}]


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", list(UNICODE_BREAKS))
def test_unicode_line_breaks_in_event_or_id_are_refused(field: str, bad: str) -> None:
    with pytest.raises(ValueError):
        ServerSentEvent(data="x", **{field: f"a{bad}b"}).encode()


@given(event=st.text(min_size=1, max_size=20), data=st.text(max_size=60))
def test_the_event_block_shortcut_writes_exactly_what_the_value_object_writes(event: str, data: str) -> None:
    try:
        expected = ServerSentEvent(data=data, event=event).encode()
    except ValueError:  # a line break in the event name: refused either way
        with pytest.raises(ValueError):
            event_block(event, data)
        return
    assert event_block(event, data) == expected
