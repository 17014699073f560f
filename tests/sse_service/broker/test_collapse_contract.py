"""Collapse keys on every broker: a newer event with the same key replaces the older one
in the history, and cursors over the remaining events stay exactly once."""

from __future__ import annotations

from sse_service.types import EventId, Notification

from .test_broker_contract import broker  # noqa: F401  (the fixture: memory, redis, redis-cluster)


def keyed(*users: str, data: str, collapse: str | None = None, idem: str | None = None) -> Notification:
    return Notification(tuple(users), "n", data, idem, collapse_key=collapse)


async def test_history_returns_only_the_latest_event_per_collapse_key(broker) -> None:  # noqa: F811
    b, _ = broker
    await b.append(
        "p",
        [
            keyed("a", data="1", collapse="progress"),
            keyed("a", data="x"),
            keyed("a", data="2", collapse="progress"),
            keyed("a", data="y", collapse="other"),
        ],
    )
    await b.append("p", [keyed("a", data="3", collapse="progress")])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["x", "y", "3"]
    assert [e.collapse_key for e in page.events] == [None, "other", "progress"]


async def test_collapse_keys_are_per_user_and_per_stream(broker) -> None:  # noqa: F811
    b, _ = broker
    await b.append("p", [keyed("a", "b", data="1", collapse="k"), keyed(data="b1", collapse="k")])
    await b.append("p", [keyed("a", data="2", collapse="k")])
    assert [e.data_json for e in (await b.history("a", None, 100)).events] == ["b1", "2"]
    assert [e.data_json for e in (await b.history("b", None, 100)).events] == ["1", "b1"]


async def test_a_cursor_before_a_replaced_event_reads_the_replacement_once_and_nothing_else_twice(broker) -> None:  # noqa: F811
    b, _ = broker
    first = await b.append("p", [keyed("a", data="0")])
    await b.append("p", [keyed("a", data="1", collapse="k"), keyed(data="b"), keyed("a", data="2")])
    await b.append("p", [keyed("a", data="3", collapse="k")])
    after = EventId.parse(first.ids[0][0])
    page = await b.history("a", after, 100)
    assert [e.data_json for e in page.events] == ["b", "2", "3"] and not page.reset
    # Resuming from every id of the page gives exactly the rest of it.
    for i, event_id in enumerate(page.ids):
        rest = await b.history("a", event_id, 100)
        assert [e.data_json for e in rest.events] == [e.data_json for e in page.events[i + 1 :]]
        assert not rest.reset


async def test_a_cursor_at_a_replaced_event_resumes_without_reset(broker) -> None:  # noqa: F811
    b, _ = broker
    old = await b.append("p", [keyed("a", data="1", collapse="k")])
    await b.append("p", [keyed("a", data="2"), keyed("a", data="3", collapse="k")])
    page = await b.history("a", EventId.parse(old.ids[0][0]), 100)
    assert [e.data_json for e in page.events] == ["2", "3"] and not page.reset


async def test_live_events_carry_their_collapse_key(broker) -> None:  # noqa: F811
    b, received = broker
    await b.subscribe("a")
    await b.append("p", [keyed("a", data="1", collapse="k")])
    await received.wait_for(lambda: len(received.events) == 1)
    assert received.events[0].collapse_key == "k"


async def test_a_retried_collapsed_notification_is_not_stored_again(broker) -> None:  # noqa: F811
    b, _ = broker
    first = await b.append("p", [keyed("a", data="1", collapse="k", idem="i1")])
    await b.append("p", [keyed("a", data="2", collapse="k")])
    again = await b.append("p", [keyed("a", data="1", collapse="k", idem="i1")])
    assert again.ids == first.ids and again.duplicates == 1
    assert [e.data_json for e in (await b.history("a", None, 100)).events] == ["2"]


async def test_collapsing_keeps_more_distinct_events_within_the_history_size(broker) -> None:  # noqa: F811
    b, _ = broker  # history size 5
    for i in range(20):
        await b.append("p", [keyed("a", data=str(i), collapse="k")])
    await b.append("p", [keyed("a", data="last")])
    page = await b.history("a", None, 100)
    assert [e.data_json for e in page.events] == ["19", "last"] and not page.reset
