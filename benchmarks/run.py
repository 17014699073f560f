"""Benchmark flagstream against the budgets in DESIGN.md and write benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run.py              # every run at budget scale (≤ 60 s each)
    .venv/bin/python benchmarks/run.py --quick      # a tenth of the size, for a quick look
    .venv/bin/python benchmarks/run.py --only idle-10k,broadcast-1k --profile

Each run gets a fresh server (memory broker; or two instances on Redis behind HAProxy)
and one `flagstream loadtest` on the same machine. `--profile` samples the server with
py-spy during the runs marked for it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.environment import (  # noqa: E402
    JWT_SECRET,
    PUBLISH_TOKEN,
    PYTHON_PEERS,
    Target,
    memory_target,
    node_better_sse_target,
    python_peer_target,
    redis_haproxy_target,
    redis_workers_target,
)
from benchmarks.render import render  # noqa: E402
from benchmarks.runs import COLLAPSE_WINDOW_MS, RUNS, Run  # noqa: E402

HERE = ROOT / "benchmarks"
RESULTS_DIR = HERE / "results"
PROFILES_DIR = HERE / "profiles"
RUN_TIMEOUT = 240


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="about a tenth of the budget scale")
    parser.add_argument("--only", help="comma-separated run names: " + ", ".join(r.name for r in RUNS))
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy during marked runs")
    parser.add_argument("--workers", default="2", help="load worker processes (default 2: the machine has 2 cores)")
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite RESULTS.md")
    parser.add_argument("--render", action="store_true", help="run nothing: RESULTS.md again from the stored reports")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    unknown = (wanted or set()) - {r.name for r in RUNS}
    if unknown:
        print(f"benchmarks/run.py: unknown run(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(exist_ok=True)
    machine = describe_machine()
    for run in RUNS:
        if not args.render and (wanted is None or run.name in wanted):
            report = execute(run, args)
            if report is not None:
                (RESULTS_DIR / f"{run.name}.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    reports = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))}
    text = render(reports, machine, args.quick)
    if args.no_write:
        print(text)
    else:
        (HERE / "RESULTS.md").write_text(text)
        print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


# What each Run's `target` starts (tests/benchmarks check that every Run's target is here).
TARGETS: dict[str, Callable[[], contextlib.AbstractContextManager[Target]]] = {
    "memory": lambda: memory_target(metrics=True),
    "memory-nometrics": lambda: memory_target(metrics=False),
    "memory-traced": lambda: memory_target(metrics=True, tracing="every"),
    "memory-traced-default": lambda: memory_target(metrics=True, tracing="default"),
    "memory-collapse-window": lambda: memory_target(metrics=True, collapse_window_ms=COLLAPSE_WINDOW_MS),
    "redis-haproxy": redis_haproxy_target,
    "redis-workers1": lambda: redis_workers_target(1),
    "redis-workers2": lambda: redis_workers_target(2),
    **{name: functools.partial(python_peer_target, name) for name in PYTHON_PEERS},
    "peer-node": node_better_sse_target,
}


def execute(run: Run, args: argparse.Namespace) -> dict | None:
    print(f"== {run.name}", file=sys.stderr, flush=True)
    try:
        with TARGETS[run.target]() as target:
            command = [
                sys.executable,
                "-m",
                "sse_service.cli",
                "loadtest",
                *(run.quick if args.quick else run.full),
                "--url",
                target.url,
                "--jwt-secret",
                JWT_SECRET,
                "--publish-token",
                PUBLISH_TOKEN,
                "-w",
                args.workers,
                "--json",
                "--no-progress",
            ]
            if len(target.pids) == 1:
                command += ["--server-pid", str(target.pids[0])]
            load_before = f"{os.getloadavg()[0]:.2f}"
            with profiling(run, target.pids[0], args.profile):
                started = time.time()
                result = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
            if not result.stdout.strip():
                print(f"   {run.name}: loadtest printed nothing (exit {result.returncode})", file=sys.stderr)
                return None
            report = json.loads(result.stdout)
            report["_run"] = {
                "name": run.name,
                "target": target.description,
                "arguments": run.quick if args.quick else run.full,
                "scale": "quick" if args.quick else "full",
                "started": started,
                "exit": result.returncode,
                "commit": describe_machine()["commit"],
                "load_before": load_before,
            }
            return report
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"   {run.name}: {exc}", file=sys.stderr)
        return None


@contextlib.contextmanager
def profiling(run: Run, pid: int, enabled: bool):
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not (enabled and run.profile and os.path.exists(py_spy)):
        yield
        return
    PROFILES_DIR.mkdir(exist_ok=True)
    out = PROFILES_DIR / f"{run.name}.collapsed.txt"
    # Wait past the connect phase so the profile is of delivery, then sample until the run ends.
    sampler = subprocess.Popen(
        ["sh", "-c", f"sleep 4; exec {py_spy} record -r 200 -f raw -o {out} -p {pid} --nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        if sampler.poll() is None:
            subprocess.run(["pkill", "-INT", "-P", str(sampler.pid)], check=False)
            sampler.send_signal(2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                sampler.wait(20)


def describe_machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
        "?",
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    code = ["sse_service", "flags", "observability", "pyproject.toml"]  # not the results being written
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", *code], capture_output=True, text=True
    ).stdout.strip()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_version()} ({loop})",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


if __name__ == "__main__":
    raise SystemExit(main())
