"""Turning what the workers saw into numbers: verification, percentiles, table, JSON."""

from __future__ import annotations

import dataclasses
import json
from array import array
from collections.abc import Iterable, Sequence

from .publisher import Accepted
from .types import LoadReport, StreamTally, Verification

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))


def verify(tallies: Iterable[StreamTally], accepted: Accepted, expect_broadcasts: bool) -> Verification:
    """Every accepted event reached every stream it was meant for: once, in order."""
    expected = delivered = lost = duplicated = out_of_order = resets = lost_unanchored = 0
    for tally in tallies:
        resets += tally.resets
        out_of_order += tally.out_of_order_ids
        checks = [(tally.user_ns, accepted.per_user.get(tally.user_id, []))]
        if expect_broadcasts:
            checks.append((tally.broadcast_ns, accepted.broadcasts))
        for received, wanted in checks:
            got = set(received)
            expected += len(wanted)
            delivered += len(received)
            duplicated += len(received) - len(got)
            missing = len(set(wanted) - got)
            if tally.unanchored_reconnects:
                lost_unanchored += missing
            else:
                lost += missing
            out_of_order += sum(1 for a, b in zip(received, received[1:]) if b <= a)
    return Verification(expected, delivered, lost, duplicated, out_of_order, resets, lost_unanchored)


def verify_latest(tallies: Iterable[StreamTally], accepted: Accepted) -> Verification:
    """Collapse keys: each stream got its user's newest accepted notification, and what it
    got came once and in order (older ones may have been replaced: not a loss)."""
    expected = delivered = lost = duplicated = out_of_order = resets = 0
    for tally in tallies:
        resets += tally.resets
        out_of_order += tally.out_of_order_ids
        received, wanted = tally.user_ns, accepted.per_user.get(tally.user_id, [])
        expected += len(wanted)
        delivered += len(received)
        duplicated += len(received) - len(set(received))
        if wanted and max(wanted) not in set(received):
            lost += 1
        out_of_order += sum(1 for a, b in zip(received, received[1:]) if b <= a)
    return Verification(expected, delivered, lost, duplicated, out_of_order, resets)


def percentiles_ms(values: Sequence[float] | array) -> dict[str, float]:
    if not len(values):
        return {}
    ordered = sorted(values)
    last = len(ordered) - 1
    result = {name: round(ordered[min(last, int(q * len(ordered)))] * 1000, 2) for name, q in PERCENTILES}
    result["max"] = round(ordered[-1] * 1000, 2)
    return result


def as_json(report: LoadReport) -> str:
    body = dataclasses.asdict(report)
    body["ok"] = report.ok
    body["verification"]["ok"] = report.verification.ok
    body["rejections"] = {str(k): v for k, v in report.rejections.items()}
    return json.dumps(body, indent=2, sort_keys=True)


def as_table(report: LoadReport) -> str:
    v = report.verification
    rows: list[tuple[str, str]] = [
        ("scenario", report.scenario),
        ("streams connected", f"{report.connected} / {report.connections}"),
        ("connect time", _or_dash(report.connect_seconds, "{:.2f} s")),
        ("connect rate", _or_dash(report.connect_rate, "{:,.0f} streams/s")),
        ("handshake p50 / p99", _pair(report.handshake_ms, "p50", "p99")),
        ("published", f"{report.published:,} in {report.publish_seconds:.1f} s ({report.publishes_per_second:,.0f}/s)"),
        ("delivered", f"{report.delivered:,} ({report.deliveries_per_second:,.0f}/s)"),
        ("latency p50 / p90", _pair(report.latency_ms, "p50", "p90")),
        ("latency p99 / p99.9", _pair(report.latency_ms, "p99", "p99.9")),
        ("latency max", _or_dash(report.latency_ms.get("max"), "{:.1f} ms")),
        ("lost / duplicated", f"{v.lost} / {v.duplicated}"),
        ("out of order / resets", f"{v.out_of_order} / {v.resets}"),
        ("missed without an id", f"{v.lost_unanchored} (reconnected before any event: only in the inbox)"),
        ("rejections", _counts(report.rejections) or "none"),
        ("errors", _counts(report.errors) or "none"),
        ("server closes", _counts(report.closes) or "none"),
        ("publish failures", _counts(report.publish_failures) or "none"),
        ("server CPU", _or_dash(report.server_cpu_percent, "{:.0f} %")),
        ("server CPU per delivery", _or_dash(report.server_cpu_us_per_delivery, "{:.1f} µs")),
        ("server CPU per connect", _or_dash(report.server_cpu_us_per_connect, "{:.0f} µs")),
        (
            "server RSS before / after",
            f"{_or_dash(report.server_rss_before_mib, '{:.1f}')} / {_or_dash(report.server_rss_after_mib, '{:.1f}')} MiB",
        ),
        ("memory per stream", _or_dash(report.memory_per_stream_kib, "{:.1f} KiB")),
        ("result", "OK" if report.ok else "FAILED"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {val}" for k, val in rows]
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def _or_dash(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _pair(values: dict[str, float], a: str, b: str) -> str:
    if a not in values:
        return "-"
    return f"{values[a]:.1f} / {values[b]:.1f} ms"


def _counts(counts: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))
