"""Reading Prometheus text exposition (what `/metrics` serves) back into numbers.

The rollout controller's embedded metric source scrapes the service and differences
two scrapes to get what happened in a window, the way Prometheus' ``increase`` does.
Parsing is prometheus_client's own parser, so the format is never guessed at.

Example::

    before = parse_exposition(text_at_t0)
    after = parse_exposition(text_at_t1)
    window = after.increase_since(before)     # None after a counter reset
    p99 = histogram_quantile(0.99, window.buckets("sse_delivery_latency_seconds"))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

SampleKey = tuple[str, frozenset[tuple[str, str]]]
_CUMULATIVE_TYPES = frozenset({"counter", "histogram", "summary"})


class ExpositionError(ValueError):
    """The text is not Prometheus exposition format."""


@dataclass(frozen=True)
class Scrape:
    """Every sample of one or more scrapes: (sample name, labels) → value."""

    samples: Mapping[SampleKey, float]
    cumulative: frozenset[str] = field(default_factory=frozenset)  # sample names that only grow

    def value(self, name: str, **labels: str) -> float:
        """Sum of every series of ``name`` whose labels include ``labels`` (0 when absent)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def buckets(self, histogram: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of a histogram, summed over its other labels."""
        by_bound: dict[float, float] = {}
        for (name, labels), value in self.samples.items():
            if name != histogram + "_bucket":
                continue
            le = dict(labels).get("le")
            if le is None:
                continue
            bound = float(le)
            by_bound[bound] = by_bound.get(bound, 0.0) + value
        return sorted(by_bound.items())

    def increase_since(self, earlier: Scrape) -> Scrape | None:
        """Counters and histograms as increases since ``earlier``; gauges as now.

        None when any cumulative series went down: the process restarted, so the
        window cannot be known (Prometheus would extrapolate; we prefer to hold).
        """
        out: dict[SampleKey, float] = {}
        for key, value in self.samples.items():
            if key[0] not in self.cumulative:
                out[key] = value
                continue
            before = earlier.samples.get(key, 0.0)
            if value < before:
                return None
            out[key] = value - before
        return Scrape(out, self.cumulative)


def parse_exposition(text: str) -> Scrape:
    samples: dict[SampleKey, float] = {}
    cumulative: set[str] = set()
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                samples[key] = samples.get(key, 0.0) + float(sample.value)
                if family.type in _CUMULATIVE_TYPES and not sample.name.endswith("_created"):
                    cumulative.add(sample.name)
    except ValueError as exc:
        raise ExpositionError(f"not Prometheus text exposition: {exc}") from None
    return Scrape(samples, frozenset(cumulative))


def merge_scrapes(scrapes: Iterable[Scrape]) -> Scrape:
    """One view of several instances: each series summed across them."""
    samples: dict[SampleKey, float] = {}
    cumulative: set[str] = set()
    for scrape in scrapes:
        cumulative |= scrape.cumulative
        for key, value in scrape.samples.items():
            samples[key] = samples.get(key, 0.0) + value
    return Scrape(samples, frozenset(cumulative))


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of cumulative buckets, interpolated as Prometheus' histogram_quantile does.

    None when the histogram saw nothing. A quantile landing in the +Inf bucket answers
    the highest finite bound, as Prometheus does.
    """
    if not buckets or not 0.0 <= q <= 1.0:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
