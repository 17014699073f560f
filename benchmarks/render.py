"""RESULTS.md from the stored run reports, the budgets, the profiles and the written analysis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.goals import goals
from benchmarks.profile_summary import summarize
from benchmarks.runs import BUDGETS, PEERS, RUNS, SIDE_BY_SIDE

HERE = Path(__file__).resolve().parent


def render(reports: dict[str, dict], machine: dict[str, str], quick: bool) -> str:
    out = [
        "# flagstream benchmark results",
        "",
        "Written by `benchmarks/run.py` (raw reports in `benchmarks/results/*.json`). "
        "Every figure comes from `flagstream loadtest` against a fresh server on this machine.",
        "",
    ]
    out += [f"- **{k}**: {v}" for k, v in machine.items()]
    out += [f"- **scale**: {'quick (a tenth of the budgets)' if quick else 'budget scale'}", ""]
    out += ["## Budgets (DESIGN.md)", "", "| budget | measured | met |", "|---|---|---|"]
    for budget in BUDGETS:
        text, met = budget.check(reports)
        out.append(f"| {budget.text} | {text} | {_met(met)} |")
    out += ["", *goals(reports)]
    out += [
        "",
        "## Runs",
        "",
        "| run | target | streams | published | deliveries/s | p50 / p99 / p99.9 / max ms | lost / dup / order | rejections | server CPU | CPU µs/delivery | KiB/stream | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in RUNS:
        rep = reports.get(run.name)
        if rep is None:
            out.append(f"| {run.name} | – | not run | | | | | | | | | |")
            continue
        lat = rep["latency_ms"]
        v = rep["verification"]
        latency = " / ".join(f"{lat[k]:.1f}" for k in ("p50", "p99", "p99.9", "max")) if lat else "–"
        rejections = ", ".join(f"{k}: {n}" for k, n in rep["rejections"].items()) or "none"
        out.append(
            f"| {run.name} | {rep['_run']['target']} | {rep['connected']:,}/{rep['connections']:,} | {rep['published']:,} "
            f"({rep['publishes_per_second']:,.0f}/s) | {rep['deliveries_per_second']:,.0f} | {latency} | "
            f"{v['lost']} / {v['duplicated']} / {v['out_of_order']} | {rejections} | {_num(rep['server_cpu_percent'], '{:.0f} %')} | "
            f"{_num(rep['server_cpu_us_per_delivery'], '{:.2f}')} | {_num(rep['memory_per_stream_kib'], '{:.1f}')} | "
            f"{'OK' if rep['ok'] else 'FAILED'} |"
        )
    out += ["", *side_by_side(reports)]
    out += ["", "Arguments of each run (`flagstream loadtest …`):", ""]
    for run in RUNS:
        rep = reports.get(run.name)
        if rep is not None:
            notes = "; ".join(rep["notes"])
            meta = rep["_run"]
            when = f"commit {meta.get('commit', '?')}, load average {meta.get('load_before', '?')} before"
            out.append(f"- `{run.name}` ({when}): `{' '.join(meta['arguments'])}`" + (f" — {notes}" if notes else ""))
    out += ["", *profiles(reports), ""]
    for written in ("analysis.md", "faults.md"):  # faults.md: `flagstream loadtest faults`, run by hand
        if (HERE / written).exists():
            out += [(HERE / written).read_text().rstrip(), ""]
    return "\n".join(out)


# Per scenario, the figures compared: server CPU per delivery (or per connect) first, since it
# survives a noisy shared machine; latency, throughput and memory beside it.
FIGURES = {
    "server CPU µs per delivery": ("server_cpu_us_per_delivery", "{:.2f}"),
    "server CPU µs per connect": ("server_cpu_us_per_connect", "{:,.0f}"),
    "p99 publish→receive, ms": ("p99", "{:.1f}"),
    "deliveries/s": ("deliveries_per_second", "{:,.0f}"),
    "server CPU": ("server_cpu_percent", "{:.0f} %"),
    "KiB per stream (RSS)": ("memory_per_stream_kib", "{:.1f}"),
    "connect 10,000 streams, s": ("connect_seconds", "{:.2f}"),
}
SCENARIO_FIGURES = {
    "idle-10k": ("server CPU µs per connect", "connect 10,000 streams, s", "KiB per stream (RSS)"),
    "broadcast-1k": (
        "server CPU µs per delivery",
        "deliveries/s",
        "p99 publish→receive, ms",
        "server CPU",
        "KiB per stream (RSS)",
    ),
    "notify-1k-x10": (
        "server CPU µs per delivery",
        "p99 publish→receive, ms",
        "deliveries/s",
        "server CPU",
        "KiB per stream (RSS)",
    ),
}


def side_by_side(reports: dict[str, dict]) -> list[str]:
    """flagstream beside the floor and the peers, one row per figure of each scenario."""
    columns = {"": "flagstream", **PEERS}  # run-name prefix -> title
    out = [
        "## Side by side: flagstream, the floor and the peers",
        "",
        "Same generator, same arguments, one server process each (`benchmarks/peers/`, described below). "
        "A figure in *italics* comes from a run that failed the generator's check (see the run table).",
        "",
        "| scenario | figure | " + " | ".join(columns.values()) + " | flagstream / floor |",
        "|---|---|" + "---|" * (len(columns) + 1),
    ]
    for scenario in SIDE_BY_SIDE:
        runs = [reports.get(f"{prefix}-{scenario}" if prefix else scenario) for prefix in columns]
        for figure in SCENARIO_FIGURES[scenario]:
            key, fmt = FIGURES[figure]
            values = [_figure(rep, key) for rep in runs]
            cells = [_cell(rep, value, fmt) for rep, value in zip(runs, values)]
            ratio = f"{values[0] / values[1]:.2f}" if values[0] is not None and values[1] else "–"
            out.append(f"| {scenario} | {figure} | " + " | ".join(cells) + f" | {ratio} |")
    out += ["", "When each column was measured (load average before its runs):", ""]
    for prefix, title in columns.items():
        metas = [rep["_run"] for s in SIDE_BY_SIDE if (rep := reports.get(f"{prefix}-{s}" if prefix else s))]
        if metas:
            start, end = (datetime.fromtimestamp(f(m["started"] for m in metas), UTC) for f in (min, max))
            loads = ", ".join(m.get("load_before", "?") for m in metas)
            out.append(f"- {title}: {start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC, commit {metas[0].get('commit', '?')}, load {loads}")
    return out


def _figure(rep: dict | None, key: str) -> float | None:
    if rep is None:
        return None
    value = (rep["latency_ms"] or {}).get("p99") if key == "p99" else rep.get(key)
    return value or None  # 0 deliveries/s or 0 % is "not measured here"


def _cell(rep: dict | None, value: float | None, fmt: str) -> str:
    if value is None:
        return "–" if rep is not None else "not run"
    return fmt.format(value) if rep and rep["ok"] else f"*{fmt.format(value)}*"


def profiles(reports: dict[str, dict]) -> list[str]:
    out = ["## Where the server's time goes per delivered event (py-spy)", ""]
    found = sorted((HERE / "profiles").glob("*.collapsed.txt")) if (HERE / "profiles").exists() else []
    if not found:
        return out + ["No profile yet: run with `--profile`."]
    for path in found:
        name = path.name.removesuffix(".collapsed.txt")
        total, categories, frames = summarize(path.read_text())
        if not total:
            continue
        per_delivery = (reports.get(name) or {}).get("server_cpu_us_per_delivery")
        out += [
            f"### {name} ({total:,} samples at 200 Hz, delivery phase)",
            "",
            "| part of the server | share of samples | ≈ µs per delivery |",
            "|---|---|---|",
        ]
        for category, count in categories:
            share = count / total
            us = f"{share * per_delivery:.2f}" if per_delivery else "–"
            out.append(f"| {category} | {share:.1%} | {us} |")
        out += ["", "Top frames (self time):", ""]
        out += [f"- {count / total:.1%} `{frame}`" for frame, count in frames[:8]]
        out.append("")
    return out


def _met(met: bool | None) -> str:
    return {True: "✅ met", False: "❌ not met", None: "– not run"}[met]


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)
