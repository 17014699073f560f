"""What clients send back (`limit`, `after`, `Last-Event-ID`): any text is a value or a
ValueError, never another exception; ids this service issues always read back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_service.client_input import MAX_EVENT_ID_LENGTH, parse_event_id, parse_limit
from sse_service.types import EPOCH_LENGTH, EventId, Offset, StreamPosition

DIGITS_OF_EVERY_SCRIPT = st.characters(categories=["Nd", "No"])
HOSTILE = (
    st.text()
    | st.text(alphabet=DIGITS_OF_EVERY_SCRIPT | st.sampled_from("-0123456789 "), max_size=60)
    | st.integers(min_value=0, max_value=6000).map(lambda n: "9" * n)
)


@given(HOSTILE)
def test_any_limit_text_is_a_page_size_or_a_value_error(raw: str) -> None:
    try:
        value = parse_limit(raw, 1000)
    except ValueError:
        return
    assert 1 <= value <= 1000 and raw.isascii() and str(value) == raw.lstrip("0")


@given(HOSTILE)
def test_any_id_text_is_an_event_id_or_a_value_error(raw: str) -> None:
    try:
        value = parse_event_id(raw)
    except ValueError:
        return
    assert isinstance(value, EventId) and raw.isascii() and len(raw) <= MAX_EVENT_ID_LENGTH


U64 = st.integers(min_value=0, max_value=2**64 - 1)
EPOCHS = st.text(alphabet="0123456789abcdef", min_size=EPOCH_LENGTH, max_size=EPOCH_LENGTH)
POSITIONS = st.builds(StreamPosition, EPOCHS, st.builds(Offset, U64, U64))


@given(POSITIONS, POSITIONS)
def test_every_id_this_service_issues_reads_back(user: StreamPosition, broadcast: StreamPosition) -> None:
    issued = EventId(user, broadcast)
    assert parse_event_id(str(issued)) == issued


@pytest.mark.parametrize("raw", ["\u00b2", "\u0661", "1\u00b2", "9" * 5000, "0", "1001", ""])
def test_the_issue_s_limits_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_limit(raw, 1000)
