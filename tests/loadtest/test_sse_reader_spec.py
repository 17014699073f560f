"""The generator reads any spec-compliant event stream (WHATWG "Interpreting an event stream").

Regression: it wanted `name: value` with the space, LF line ends and, on its fast path,
`id`/`event`/`data` in that order, so a compliant peer's events (`event:lt`, CRLF, ...) were
counted as lost. Each variant of the same stream must leave the generator with what the
canonical spelling (flagstream's own) leaves it with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from flagstream_client.backoff import Backoff
from loadtest.stream_slot import STORM_BACKOFF, StreamProtocol, StreamSlot, WorkerTotals

Fields = list[tuple[str, str]]  # ("", text) is a comment line

# What flagstream writes on a fresh stream: connected (with retry), our events, a ping, shutdown.
STREAM: list[Fields] = [
    [("retry", "3000"), ("id", "0-0"), ("event", "connected"), ("data", '{"connection_id":"c1"}')],
    [("id", "1-0"), ("event", "lt"), ("data", '{"k":"u","n":0,"t":1.5}')],
    [("id", "2-0"), ("event", "lt"), ("data", '{"k":"b","n":0,"t":2.5}')],
    [("event", "ping"), ("data", "{}")],
    [("id", "3-0"), ("event", "lt"), ("data", '{"k":"u","n":1,"t":3.5}')],
    [("event", "shutdown"), ("data", "{}"), ("retry", "5000")],
]


def write(
    blocks: list[Fields] = STREAM,
    *,
    colon: str = ": ",
    eol: str = "\n",
    edit: Callable[[Fields], Fields] = list,
    bom: bool = False,
) -> bytes:
    text = "".join("".join(name + colon + value + eol for name, value in edit(fields)) + eol for fields in blocks)
    return ("\ufeff" if bom else "").encode() + text.encode()


def reordered(fields: Fields) -> Fields:
    return sorted(fields, key=lambda f: ["data", "event", "retry", "id"].index(f[0]))


def event_first(fields: Fields) -> Fields:
    return sorted(fields, key=lambda f: f[0] != "event")


def split_data(fields: Fields) -> Fields:
    """`data: {"k":"u",` / `data: "n":0,...}`: the lines are joined with LF, still the same JSON."""
    out: Fields = []
    for name, value in fields:
        head, comma, tail = value.partition(",")
        out += [(name, head + comma), (name, tail)] if name == "data" and comma else [(name, value)]
    return out


VARIANTS: dict[str, bytes] = {
    "no space after the colon": write(colon=":"),
    "CRLF line ends": write(eol="\r\n"),
    "CR line ends": write(eol="\r"),
    "comment lines": write(edit=lambda f: [("", "hi"), *f[:1], ("", ""), *f[1:]]),
    "comment-only blocks": write([b for fields in STREAM for b in ([("", "keep-alive")], fields)]),
    "retry lines": write(edit=lambda f: [*f[:1], ("retry", "1000"), *f[1:]]),
    "a BOM at stream start": write(bom=True, edit=event_first),
    "fields in another order": write(edit=reordered),
    "event, id, data (better-sse)": write(colon=":", edit=event_first),
    "unknown fields": write(edit=lambda f: [("foo", "bar"), *f, ("ide", "9-9")]),
    "data split over lines": write(edit=split_data),
    "CRLF, no space, reordered and a BOM": write(colon=":", eol="\r\n", edit=reordered, bom=True),
}


def observe(*chunks: bytes) -> dict[str, object]:
    async def feed() -> StreamSlot:
        slot = StreamSlot("u", "t", "127.0.0.1", 1, WorkerTotals(), asyncio.Semaphore(1), lambda s: None)
        slot.backoff = Backoff(STORM_BACKOFF, rng=lambda low, high: high)
        protocol = StreamProtocol(slot, b"", None)  # type: ignore[arg-type]
        for chunk in chunks:
            protocol._body(chunk)
        return slot

    slot = asyncio.run(feed())
    t, totals = slot.tally, slot.totals
    return {
        "user_ns": list(t.user_ns),
        "broadcast_ns": list(t.broadcast_ns),
        "last_event_id": slot.last_event_id,
        "received": totals.received,
        "latencies": len(totals.latencies),
        "out_of_order_ids": t.out_of_order_ids,
        "connects": t.connects,
        "resets": t.resets,
        "closes": totals.closes,
        "errors": totals.errors,
        "next_delay": slot.next_delay,
    }


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


def test_the_canonical_stream_is_read_in_full() -> None:
    seen = observe(write())
    assert seen["user_ns"] == [0, 1] and seen["broadcast_ns"] == [0] and seen["received"] == 3
    assert (seen["last_event_id"], seen["connects"], seen["closes"], seen["next_delay"]) == ("3-0", 1, {"shutdown": 1}, 5.0)
    assert observe(*bytewise(write())) == seen


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_spec_compliant_spelling_reads_as_the_canonical_one(variant: str) -> None:
    assert observe(VARIANTS[variant]) == observe(write())


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_spelling_split_into_single_bytes_reads_the_same(variant: str) -> None:
    """Chunk ends fall inside CRLF pairs, the BOM, field names."""
    assert observe(*bytewise(VARIANTS[variant])) == observe(write())


def test_exactly_one_space_after_the_colon_is_stripped() -> None:
    seen = observe(b'id:  7\nevent: lt\ndata: {"k":"u","n":0,"t":1.5}\n\n')
    assert (seen["last_event_id"], seen["user_ns"]) == (" 7", [0])


def test_an_id_with_nul_is_ignored() -> None:
    lt = '{"k":"u","n":%d,"t":1.5}'
    seen = observe(
        write([[("id", "1-0"), ("event", "lt"), ("data", lt % 0)], [("id", "2\0"), ("event", "lt"), ("data", lt % 1)]])
    )
    assert (seen["last_event_id"], seen["user_ns"]) == ("1-0", [0, 1])


def test_a_block_without_data_is_no_event() -> None:
    seen = observe(b"id: 4-0\nevent: lt\n\nevent: shutdown\nretry: 5000\n\n")
    assert (seen["received"], seen["closes"], seen["last_event_id"]) == (0, {}, "4-0")


def test_a_retry_that_is_not_all_digits_is_ignored() -> None:
    assert observe(write(STREAM[:-1] + [[("event", "shutdown"), ("data", "{}"), ("retry", "5s")]])) == observe(
        write(STREAM[:-1] + [[("event", "shutdown"), ("data", "{}")]])
    )


def test_a_field_after_the_data_line_is_part_of_the_block() -> None:
    """`event: ping` after our data line makes the block a ping (the fast scan once counted it)."""
    lt = b'id: 5\nevent: lt\ndata: {"k":"u","n":0,"t":1.5}\n'
    seen = observe(lt + b"event: ping\n\n" + lt.replace(b"5", b"6") + b"\n")
    assert (seen["user_ns"], seen["last_event_id"]) == ([0], "6")


def test_a_field_whose_name_ends_in_id_is_not_the_id() -> None:
    lt = b'id: 4\nevent: lt\ndata: {"k":"u","n":%d,"t":1.5}\n\n'
    seen = observe(lt % 0 + (lt % 1).replace(b"id: 4", b"xid: 5"))
    assert (seen["user_ns"], seen["last_event_id"]) == ([0, 1], "4")
