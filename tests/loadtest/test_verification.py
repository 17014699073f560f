"""The checks behind "lost / duplicated / out of order" must catch each fault."""

from __future__ import annotations

from array import array

from loadtest.publisher import Accepted
from loadtest.report import percentiles_ms, verify
from loadtest.types import StreamTally


def tally(user: str, ns: list[int], broadcasts: list[int] = ()) -> StreamTally:
    return StreamTally(user, array("q", ns), array("q", broadcasts))


def test_a_clean_run_verifies() -> None:
    accepted = Accepted(per_user={"a": [0, 1, 2]}, broadcasts=[0, 1])
    v = verify([tally("a", [0, 1, 2], [0, 1])], accepted, expect_broadcasts=True)
    assert (v.expected, v.delivered, v.lost, v.duplicated, v.out_of_order, v.ok) == (5, 5, 0, 0, 0, True)


def test_lost_duplicated_and_reordered_events_are_each_counted() -> None:
    accepted = Accepted(per_user={"a": [0, 1, 2, 3], "b": [0, 1]}, broadcasts=[0])
    v = verify([tally("a", [0, 2, 1, 1], [0]), tally("b", [0], [])], accepted, expect_broadcasts=True)
    assert (v.lost, v.duplicated, v.out_of_order, v.ok) == (3, 1, 2, False)


def test_resets_fail_the_run() -> None:
    t = tally("a", [])
    t.resets = 1
    assert not verify([t], Accepted(per_user={"a": []}), expect_broadcasts=False).ok


def test_percentiles_in_milliseconds() -> None:
    values = array("d", [i / 1000 for i in range(1, 1001)])
    p = percentiles_ms(values)
    assert (p["p50"], p["p90"], p["p99"], p["p99.9"], p["max"]) == (501.0, 901.0, 991.0, 1000.0, 1000.0)
    assert percentiles_ms(array("d")) == {}


def test_payloads_parse_on_the_fast_path_and_in_any_other_json_layout() -> None:
    import json

    from loadtest.sse_reader import parse_payload

    assert parse_payload(json.dumps({"k": "u", "n": 7, "t": 1764.25}).encode()) == (b"u", 7, 1764.25)
    assert parse_payload(b'{"t":1.5,"n":3,"k":"b"}') == (b"b", 3, 1.5)


def test_the_payload_fast_path_reads_the_servers_compact_json_without_json_loads(monkeypatch) -> None:
    from loadtest import sse_reader
    from sse_service import strict_json

    def no_json(_: bytes) -> None:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(sse_reader.json, "loads", no_json)
    assert sse_reader.parse_payload(strict_json.encode({"k": "u", "n": 7, "t": 1764.25})) == (b"u", 7, 1764.25)
    assert sse_reader.parse_payload(b'{"k": "b", "n": 3, "t": 1.5}') == (b"b", 3, 1.5)


def test_losses_on_streams_that_reconnected_without_any_id_are_counted_apart() -> None:
    quiet = tally("q", [2, 3])
    quiet.unanchored_reconnects = 1
    v = verify([quiet, tally("a", [0])], Accepted(per_user={"q": [0, 1, 2, 3], "a": [0, 1]}), expect_broadcasts=False)
    assert (v.lost, v.lost_unanchored, v.ok) == (1, 2, False)
    v = verify([quiet], Accepted(per_user={"q": [0, 1, 2, 3]}), expect_broadcasts=False)
    assert (v.lost, v.lost_unanchored, v.ok) == (0, 2, True)


def test_a_write_of_only_our_events_and_a_mixed_write_are_tallied_alike() -> None:
    import asyncio
    import json

    from loadtest.stream_slot import StreamProtocol, StreamSlot, WorkerTotals
    from sse_service.sse import ServerSentEvent

    def ours(seq: int, n: int) -> bytes:
        return ServerSentEvent(
            data=json.dumps({"k": "u", "n": n, "t": 1.0}), event="lt", id=f"0123456789ab.5-{seq}.ba9876543210.0-0"
        ).encode()

    async def feed(chunks: list[bytes]) -> StreamSlot:
        slot = StreamSlot("u", "t", "127.0.0.1", 1, WorkerTotals(), asyncio.Semaphore(1), lambda s: None)
        protocol = StreamProtocol(slot, b"", None)  # type: ignore[arg-type]
        for chunk in chunks:
            protocol._body(chunk)
        return slot

    ping = ServerSentEvent(data="{}", event="ping").encode()
    fast = asyncio.run(feed([ours(1, 0) + ours(2, 1) + ours(3, 2)]))
    mixed = asyncio.run(feed([ours(1, 0) + ping + ours(2, 1)[:10], ours(2, 1)[10:] + ours(3, 2)]))
    for slot in (fast, mixed):
        assert list(slot.tally.user_ns) == [0, 1, 2]
        assert (
            slot.last_event_id == "0123456789ab.5-3.ba9876543210.0-0"
            and slot.totals.received == 3
            and slot.tally.out_of_order_ids == 0
        )


def test_collapse_runs_need_the_newest_per_user_once_and_in_order() -> None:
    from loadtest.report import verify_latest

    accepted = Accepted(per_user={"a": [0, 1, 2, 3], "b": [0, 1], "c": [0, 1]})
    v = verify_latest([tally("a", [1, 3]), tally("b", [0]), tally("c", [1, 0, 1])], accepted)
    assert (v.expected, v.delivered, v.lost, v.duplicated, v.out_of_order) == (8, 6, 1, 1, 1)
    assert verify_latest([tally("a", [3])], Accepted(per_user={"a": [0, 1, 2, 3]})).ok


def test_the_fast_scan_reads_the_servers_compact_json_and_spaced_json() -> None:
    from loadtest.sse_reader import OUR_EVENTS
    from sse_service import strict_json

    compact = b"id: 1\nevent: lt\ndata: " + strict_json.encode({"k": "u", "n": 7, "t": 1.5})
    spaced = b'id: 2\nevent: lt\ndata: {"k": "b", "n": 8, "t": 2.5}'
    assert OUR_EVENTS.findall(compact + b"\n\n" + spaced + b"\n\n") == [(b"1", b"u", b"7", b"1.5"), (b"2", b"b", b"8", b"2.5")]
