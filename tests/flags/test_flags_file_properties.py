"""Property tests of the flags file parser: any text is a FlagsDocument or one
FlagsFileError line, never another exception (a crash would stop the file watcher)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flags.flags_file import parse_flags_text
from flags.types import FlagsFileError

PATH = Path("flags.json")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
FEATURE = st.fixed_dictionaries(
    {"name": st.text(max_size=20), "enabled": st.booleans(), "strategies": st.lists(JSON_VALUES, max_size=2)},
    optional={"variants": JSON_VALUES, "type": st.text(max_size=10), "impressionData": JSON_VALUES},
)


def parses_or_refuses_in_one_line(text: str) -> None:
    try:
        document = parse_flags_text(PATH, text)
    except FlagsFileError as error:
        assert str(error).startswith(f"flags file {PATH}") and "\n" not in str(error)
        return
    assert document.text == text
    assert all(isinstance(feature["name"], str) for feature in document.features)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_text_is_a_document_or_one_line_error(text: str) -> None:
    parses_or_refuses_in_one_line(text)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_is_a_document_or_one_line_error(value) -> None:
    parses_or_refuses_in_one_line(json.dumps(value))


@settings(max_examples=100, deadline=None)
@given(st.lists(FEATURE, max_size=4), st.integers(min_value=1, max_value=3))
def test_documents_shaped_like_unleash_ones_are_a_document_or_one_line_error(features, version: int) -> None:
    parses_or_refuses_in_one_line(json.dumps({"version": version, "features": features}))


@given(st.integers(min_value=900, max_value=50_000), st.sampled_from(["[", '{"a":']))
@settings(max_examples=10, deadline=None)
def test_nesting_too_deep_for_the_json_reader_is_one_line_error(depth: int, opener: str) -> None:
    parses_or_refuses_in_one_line(opener * depth)
    parses_or_refuses_in_one_line('{"features": ' + "[" * depth + "]" * depth + "}")
