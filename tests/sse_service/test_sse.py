"""The SSE encoder: no payload can break the framing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from sse_service.sse import ServerSentEvent, escape_unicode_breaks


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


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20))
def test_any_json_payload_arrives_unchanged(value) -> None:
    text = json.dumps(value, ensure_ascii=False)
    [event] = parse(ServerSentEvent(data=text, event="n", id="3-4").encode() + ServerSentEvent(data="{}", event="next").encode())[:1]
    assert json.loads(event["data"]) == value


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb"])
def test_line_breaks_in_event_or_id_are_refused(field: str, bad: str) -> None:
    with pytest.raises(ValueError):
        ServerSentEvent(data="x", **{field: bad}).encode()


def test_retry_and_comment_blocks() -> None:
    assert ServerSentEvent(retry=1500, event="connected", data="{}").encode() == b"retry: 1500\nevent: connected\ndata: {}\n\n"
    assert ServerSentEvent(comment="keep\nalive").encode() == b": keep\n: alive\n\n"
