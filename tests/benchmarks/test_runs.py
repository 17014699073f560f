"""The benchmark's runs, what starts them, and the peers' shared contract (benchmarks/)."""

from __future__ import annotations

from benchmarks.peers.contract import Recipients
from benchmarks.run import TARGETS
from benchmarks.runs import PEERS, RUNS, SIDE_BY_SIDE


def test_every_run_names_a_target_that_run_py_can_start() -> None:
    assert {run.target for run in RUNS} - set(TARGETS) == set()


def test_run_names_are_unique() -> None:
    assert len({run.name for run in RUNS}) == len(RUNS)


def test_every_peer_runs_each_side_by_side_scenario_with_flagstreams_arguments() -> None:
    by_name = {run.name: run for run in RUNS}
    for peer in PEERS:
        for scenario in SIDE_BY_SIDE:
            run = by_name[f"{peer}-{scenario}"]
            assert (run.target, run.full, run.quick) == (peer, by_name[scenario].full, by_name[scenario].quick)


def test_a_peer_numbers_a_batch_in_order_and_routes_each_item_to_its_streams() -> None:
    recipients: Recipients[str] = Recipients()
    for user, stream in (("ann", "ann-1"), ("ann", "ann-2"), ("bob", "bob-1")):
        recipients.add(user, stream)
    recipients.discard("bob", "bob-1")
    recipients.add("cyd", "cyd-1")
    got: list[tuple[str, tuple[str, str, object]]] = []
    document = {
        "notifications": [
            {"user_id": "ann", "event": "lt", "data": {"n": 0}},
            {"user_ids": ["cyd", "nobody"], "event": "lt", "data": {"n": 1}},
            {"broadcast": True, "data": {"n": 2}},
        ]
    }
    ids = recipients.publish(document, lambda stream, notification: got.append((stream, notification)))
    assert ids == ["1", "2", "3"]
    assert sorted(got) == sorted(
        [
            ("ann-1", ("1", "lt", {"n": 0})),
            ("ann-2", ("1", "lt", {"n": 0})),
            ("cyd-1", ("2", "lt", {"n": 1})),
            ("ann-1", ("3", "notification", {"n": 2})),
            ("ann-2", ("3", "notification", {"n": 2})),
            ("cyd-1", ("3", "notification", {"n": 2})),
        ]
    )
    assert "bob" not in recipients.users
