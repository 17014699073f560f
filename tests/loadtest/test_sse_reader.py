"""`loadtest.sse_reader`: what any block `ServerSentEvent` writes reads back as, in any spelling
the spec allows; flagstream's own blocks stay on the fast scan."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loadtest import sse_reader
from loadtest.sse_reader import BOM, Event, EventStreamReader, Ours, parse_block
from sse_service import strict_json
from sse_service.sse import ServerSentEvent, escape_unicode_breaks


def read(*chunks: bytes) -> tuple[list[Ours], list[Event]]:
    ours: list[Ours] = []
    events: list[Event] = []
    reader = EventStreamReader(lambda batch, now: ours.extend(batch), lambda event, now: events.append(event))
    for chunk in chunks:
        reader.feed(chunk, 0.0)
    return ours, events


def expected(sent: ServerSentEvent) -> Event | None:
    retry = sent.retry if sent.retry is not None and sent.retry >= 0 else None  # `retry: -1` is no retry
    if sent.data is None and sent.id is None and retry is None:
        return None
    data = None if sent.data is None else re.sub(r"\r\n|\r|\n", "\n", escape_unicode_breaks(sent.data)).encode()
    event_id = None if sent.id is None else sent.id.encode()
    return (event_id, (sent.event or "message").encode(), data, retry)


def without_space(stream: bytes) -> bytes:
    """`name:value` wherever that reads the same (not where the value itself starts with a space)."""
    return re.sub(rb"^([^:\n]*): (?! )", rb"\1:", stream, flags=re.M)


SPELLINGS = {
    "as written": lambda s: s,
    "CRLF": lambda s: s.replace(b"\n", b"\r\n"),
    "CR": lambda s: s.replace(b"\n", b"\r"),
    "no space": without_space,
    "BOM, no space, CRLF": lambda s: BOM + without_space(s).replace(b"\n", b"\r\n"),
}
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
blocks = st.builds(
    ServerSentEvent,
    data=st.none() | texts,
    event=st.none() | texts,
    id=st.none() | texts,
    retry=st.none() | st.integers(-5, 10**6),
    comment=st.none() | texts,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(sent=st.lists(blocks, min_size=1, max_size=4), spelling=st.sampled_from(sorted(SPELLINGS)), data=st.data())
def test_any_block_server_sent_event_writes_reads_back_to_its_fields(sent, spelling, data) -> None:
    try:
        written = b"".join(block.encode() for block in sent)
    except ValueError:  # an id or event with a line break or NUL: the writer refuses it
        assume(False)
    assume(all(block.event != "lt" for block in sent))  # ours would take the fast scan
    stream = SPELLINGS[spelling](written)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    want = [e for e in map(expected, sent) if e is not None]
    assert read(stream) == ([], want)
    assert read(*chunks) == ([], want)


def lt(seq: int, n: int, *, compact: bool = True) -> bytes:
    payload = {"k": "u", "n": n, "t": 1.5}
    data = strict_json.encode(payload).decode() if compact else json.dumps(payload)
    return ServerSentEvent(data=data, event="lt", id=f"0123456789ab.5-{seq}.ba9876543210.0-0").encode()


def event_first(stream: bytes) -> bytes:
    return re.sub(rb"^(id:[^\n]*\n)(event:[^\n]*\n)", rb"\2\1", stream, flags=re.M)


@pytest.mark.parametrize("spelling", ["as written", "CRLF", "event first", "event first, no space"])
def test_our_own_blocks_take_the_fast_scan(spelling: str, monkeypatch) -> None:
    def slow(_: bytes) -> None:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(sse_reader, "parse_block", slow)
    written = b"".join(lt(i, i, compact=i % 2 == 0) for i in range(50))
    stream = SPELLINGS["no space" if "no space" in spelling else "as written"](written)
    stream = event_first(stream) if spelling.startswith("event first") else SPELLINGS[spelling](stream)
    ours, _ = read(stream[:1000], stream[1000:2345], stream[2345:])
    assert [int(n) for _, _, n, _ in ours] == list(range(50))
    assert ours[7][0] == b"0123456789ab.5-7.ba9876543210.0-0"


def test_fields_follow_the_spec_line_by_line() -> None:
    block = b":comment\nid:  x\nevent\ndata\ndata:a: b\nretry: 12 \nfoo: bar\ndata : no\nevent:e"
    assert parse_block(block) == (b" x", b"e", b"\na: b", None)
    assert parse_block(b"retry:7\nid\n: only a comment") == (b"", b"message", None, 7)
    assert parse_block(b": a comment\nevent: x") is None


def test_a_bom_only_counts_at_the_start_of_the_stream() -> None:
    assert read(BOM[:1], BOM[1:] + b"data: 1\n\n" + BOM + b"data: 2\n\n")[1] == [(None, b"message", b"1", None)]


def test_an_empty_id_after_one_space_is_empty_on_the_fast_scan_too() -> None:
    payload = b'{"k":"u","n":1,"t":1.5}'
    assert read(b"event:lt\nid: \ndata:" + payload + b"\n\n") == ([], [(b"", b"lt", payload, None)])
    assert read(b"event:lt\nid:  x\ndata:" + payload + b"\n\n") == ([(b" x", b"u", b"1", b"1.5")], [])


def test_a_body_chunk_h11_hands_over_as_a_bytearray_reads_like_bytes() -> None:
    # h11 gives some bodies (e.g. read until close) as bytearray: the Node peer's stream crashed
    # the reader ("unhashable type: 'bytearray'") on every block off the fast scan.
    first, block = b"event:a\ndata:1\n\n", b"event:ping\ndata:{}\n\n"
    assert read(first, bytearray(block)) == read(first, block)
    assert read(first, bytearray(block + b"event:")) == read(first, block + b"event:")
