"""The batched delivery-latency histogram must expose exactly what prometheus_client's would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from observability.metrics import LATENCY_BUCKETS, LatencyHistogram, PrometheusMetrics

NAME = "sse_delivery_latency_seconds"


def _series(registry: CollectorRegistry) -> dict[str, float]:
    lines = generate_latest(registry).decode().splitlines()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith(NAME) and "_created" not in line
    }


@given(
    st.lists(
        st.lists(
            st.sampled_from([0.0005, 0.001, 0.003, 0.2, 11.0]) | st.floats(min_value=0, max_value=20, allow_nan=False),
            max_size=50,
        ),
        max_size=10,
    )
)
def test_batched_observations_match_prometheus_client_histogram(batches: list[list[float]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batched = LatencyHistogram(NAME, "doc", LATENCY_BUCKETS)
    ours.register(batched)
    reference = Histogram(NAME, "doc", buckets=LATENCY_BUCKETS, registry=theirs)
    for batch in batches:
        batched.observe_many(batch)
        for value in batch:
            reference.observe(value)
    mine, expected = _series(ours), _series(theirs)
    assert mine.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(mine[key] - value) <= 1e-9 * max(1.0, abs(value)), key


def test_bucket_edges_are_inclusive_like_prometheus() -> None:
    metrics = PrometheusMetrics(CollectorRegistry(), process_metrics=False)
    metrics.events_delivered(3, [0.001, 0.0010001, 10.5])
    series = _series(metrics.registry)
    assert series[NAME + '_bucket{le="0.001"}'] == 1
    assert series[NAME + '_bucket{le="0.0025"}'] == 2
    assert series[NAME + '_bucket{le="10.0"}'] == 2
    assert series[NAME + '_bucket{le="+Inf"}'] == 3
    assert series[NAME + "_count"] == 3


def test_runs_count_like_the_values_they_stand_for() -> None:
    from observability.metrics import LatencyHistogram

    one, runs = LatencyHistogram("a", "a", [0.01, 0.1, 1]), LatencyHistogram("a", "a", [0.01, 0.1, 1])
    one.observe_many([0.005] * 3 + [0.5] * 2 + [5.0])
    runs.observe_runs([(0.005, 3), (0.5, 2), (5.0, 1)])
    assert one._counts == runs._counts and abs(one._sum - runs._sum) < 1e-9
