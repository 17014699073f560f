"""`flagstream loadtest SCENARIO`: arguments, checks, and the exit status."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import secrets
import sys
from urllib.parse import urlsplit

from .types import SCENARIOS, LoadPlan

# What the [loadtest] extra installs; the command checks them before it imports the generator.
EXTRA_MODULES = ("h11", "httpx_sse", "tqdm")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_TTL_MARGIN = 3600.0


class UsageError(Exception):
    """An argument is wrong; the message is the one line the user sees."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "loadtest",
        help="open many streams against a local flagstream and measure delivery",
        description="Open C streams from several worker processes against a flagstream on this machine, "
        "publish through the batch API, and report connect rate, throughput, latency "
        "percentiles, lost/duplicated events, rejections and the server's CPU and memory.",
    )
    p.add_argument(
        "scenario",
        choices=(*SCENARIOS, "faults"),
        help="idle | notify | broadcast | storm | mixed | collapse (notify with one collapse key per user) "
        "| faults (starts its own Redis, instances and HAProxy)",
    )
    p.add_argument(
        "--url",
        default=os.environ.get("FLAGSTREAM_URL", "http://127.0.0.1:8080"),
        help="the service (127.0.0.1 only; default %(default)s)",
    )
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--jwt-secret", help="mint user tokens with this HS256 secret (default: FLAGSTREAM_JWT_SECRET)")
    auth.add_argument("--token-file", help="user tokens, one per line, one stream each")
    p.add_argument(
        "--publish-token",
        default=os.environ.get("FLAGSTREAM_PUBLISH_TOKEN"),
        help="publisher token (default: FLAGSTREAM_PUBLISH_TOKEN)",
    )
    p.add_argument("-c", "--connections", type=int, default=100, help="streams to open (default %(default)s)")
    p.add_argument("-w", "--workers", type=int, default=min(4, os.cpu_count() or 1), help="worker processes")
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds of load (default %(default)s)")
    p.add_argument("-n", "--count", type=int, help="stop after this many publishes (per kind) instead of --duration")
    p.add_argument("--rate", type=float, default=1000.0, help="per-user notifications per second, all users together")
    p.add_argument("--broadcast-rate", type=float, default=100.0, help="broadcasts per second")
    p.add_argument("--batch", type=int, default=500, help="notifications per POST at most (default %(default)s)")
    p.add_argument("--publishers", type=int, default=4, help="concurrent publishing tasks (default %(default)s)")
    p.add_argument(
        "--publish-interval",
        type=float,
        default=0.01,
        help="seconds between one publishing task's POSTs at least (default %(default)s)",
    )
    p.add_argument("--connect-concurrency", type=int, default=256, help="handshakes in flight per worker")
    p.add_argument("--storm-rounds", type=int, default=1, help="storm: how many times every stream reconnects at once")
    p.add_argument("--drain-timeout", type=float, default=15.0, help="seconds to wait for the last deliveries")
    p.add_argument("--user-prefix", help="user ids are PREFIX0, PREFIX1, … (default: a fresh random prefix)")
    p.add_argument("--server-pid", type=int, help="read the server's CPU and memory from /proc/PID instead of /metrics")
    p.add_argument("--fault", default="all", help="faults: which ones, comma-separated (default all)")
    p.add_argument("--hold", type=float, default=3.0, help="faults: seconds a pause or black hole lasts")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=run_command)

    def one_line_error(message: str) -> None:
        print(f"flagstream loadtest: {message}", file=sys.stderr)
        raise SystemExit(2)

    p.error = one_line_error  # type: ignore[method-assign]


def run_command(args: argparse.Namespace) -> int:
    missing = missing_extra()
    if missing:
        print(
            f"flagstream loadtest: needs the [loadtest] extra (pip install 'flagstream[loadtest]'): {missing} is not installed",
            file=sys.stderr,
        )
        return 2
    if args.scenario == "faults":
        from .faults.cli import run_faults_command

        return run_faults_command(args)
    try:
        plan = build_plan(args)
    except UsageError as exc:
        print(f"flagstream loadtest: {exc}", file=sys.stderr)
        return 2
    from .report import as_json, as_table
    from .runner import run_plan

    try:
        _check_reachable(plan.url)
        report = asyncio.run(run_plan(plan))
    except (OSError, TimeoutError, RuntimeError) as exc:
        print(f"flagstream loadtest: {exc}", file=sys.stderr)
        return 1
    print(as_json(report) if plan.json_output else as_table(report))
    return 0 if report.ok else 1


def missing_extra() -> str | None:
    """The first module of the [loadtest] extra that cannot be imported, or None."""
    for module in EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


def build_plan(args: argparse.Namespace) -> LoadPlan:
    url = args.url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"--url must be http://127.0.0.1:PORT, got {args.url!r}")
    if parts.hostname not in LOCAL_HOSTS:
        raise UsageError(f"--url must point at this machine (127.0.0.1), got host {parts.hostname!r}")
    _positive("--connections", args.connections)
    _positive("--workers", args.workers)
    _positive("--duration", args.duration)
    _positive("--rate", args.rate)
    _positive("--broadcast-rate", args.broadcast_rate)
    _positive("--batch", args.batch)
    _positive("--publishers", args.publishers)
    _positive("--connect-concurrency", args.connect_concurrency)
    if args.publish_interval < 0:
        raise UsageError(f"--publish-interval must not be negative, got {args.publish_interval}")
    _positive("--storm-rounds", args.storm_rounds)
    _positive("--drain-timeout", args.drain_timeout)
    if args.count is not None:
        _positive("--count", args.count)
    if args.workers > 64:
        raise UsageError("--workers: at most 64")
    if args.scenario != "idle" and not args.publish_token:
        raise UsageError(f"{args.scenario} publishes: give --publish-token (or FLAGSTREAM_PUBLISH_TOKEN)")
    if args.server_pid is not None and not os.path.exists(f"/proc/{args.server_pid}/stat"):
        raise UsageError(f"--server-pid: no process {args.server_pid} on this machine")
    tokens = _tokens(args)
    return LoadPlan(
        url=url,
        scenario=args.scenario,
        connections=args.connections,
        workers=args.workers,
        duration=args.duration,
        count=args.count,
        rate=args.rate,
        broadcast_rate=args.broadcast_rate,
        batch=args.batch,
        publishers=args.publishers,
        publish_interval=args.publish_interval,
        connect_concurrency=args.connect_concurrency,
        storm_rounds=args.storm_rounds,
        publish_token=args.publish_token or "",
        tokens=tokens,
        drain_timeout=args.drain_timeout,
        server_pid=args.server_pid,
        json_output=args.json,
        progress=not args.no_progress,
    )


def _tokens(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    import jwt

    if args.token_file:
        try:
            with open(args.token_file) as fh:
                lines = [line.strip() for line in fh if line.strip()]
        except OSError as exc:
            raise UsageError(f"--token-file: {exc.strerror}: {args.token_file}") from None
        if len(lines) < args.connections:
            raise UsageError(f"--token-file has {len(lines)} tokens, --connections needs {args.connections}")
        pairs = []
        for number, token in enumerate(lines[: args.connections], 1):
            try:
                subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
            except jwt.PyJWTError:
                raise UsageError(f"--token-file line {number} is not a JWT") from None
            if not subject:
                raise UsageError(f"--token-file line {number} has no `sub` claim")
            pairs.append((str(subject), token))
        return tuple(pairs)
    secret = args.jwt_secret or os.environ.get("FLAGSTREAM_JWT_SECRET")
    if not secret:
        raise UsageError("give --jwt-secret (or FLAGSTREAM_JWT_SECRET) or --token-file")
    from sse_service.auth import mint_token

    prefix = args.user_prefix or f"lt-{secrets.token_hex(3)}-"
    ttl = args.duration + args.drain_timeout + TOKEN_TTL_MARGIN
    return tuple((f"{prefix}{i}", mint_token(secret, f"{prefix}{i}", ttl=ttl)) for i in range(args.connections))


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise UsageError(f"{name} must be positive, got {value}")


def _check_reachable(url: str) -> None:
    import httpx

    try:
        httpx.get(url + "/healthz", timeout=5)
    except httpx.HTTPError as exc:
        raise OSError(f"cannot reach {url}: {exc}") from None
