"""`flagstream rollout …`: the release manager's commands.

``add_commands(subparsers)`` registers ``rollout`` on the main CLI; every subcommand sets
``handler`` to a function taking the parsed args and returning an exit code. ``main`` runs the
same commands on their own (``python -m rollout``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .cli_output import emit_json, print_history, print_report, print_status
from .controller import RolloutController
from .factory import DEFAULT_PLAN, DEFAULT_STATE, RolloutOptions, open_controller
from .records import transition_to_json
from .report import suggest, summarise
from .status import status_view
from .types import RolloutError

Handler = Callable[[argparse.Namespace], int]


def _actor() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _options(args: argparse.Namespace) -> RolloutOptions:
    return RolloutOptions(
        plan=args.plan,
        state=args.state,
        flags_file=args.flags_file,
        unleash_url=args.unleash_url,
        unleash_admin_token=args.unleash_admin_token,
        unleash_project=args.unleash_project,
        unleash_environment=args.unleash_environment,
        metrics_urls=tuple(args.metrics_url or ()),
        metrics_token=args.metrics_token,
        prometheus_url=args.prometheus_url,
        webhook_url=getattr(args, "webhook_url", None),
    )


def _run(args: argparse.Namespace, work: Callable[[RolloutController], Awaitable[None]], *, flags: bool, metrics: bool) -> int:
    async def go() -> None:
        async with open_controller(_options(args), needs_flags=flags, needs_metrics=metrics) as controller:
            await work(controller)

    try:
        asyncio.run(go())
    except RolloutError as exc:
        print(f"flagstream rollout {args.rollout_command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _show_state(args: argparse.Namespace, controller: RolloutController) -> Callable[..., Awaitable[None]]:
    async def show(state) -> None:  # type: ignore[no-untyped-def]
        view = status_view(controller.plan, state, controller.clock.now())
        if args.json:
            emit_json(view)
        else:
            print_status(view)

    return show


def _command(action: Callable[[RolloutController, argparse.Namespace], Awaitable[object]], *, flags: bool) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        async def work(controller: RolloutController) -> None:
            state = await action(controller, args)
            await _show_state(args, controller)(state)

        return _run(args, work, flags=flags, metrics=False)

    return handler


def _status(args: argparse.Namespace) -> int:
    async def work(controller: RolloutController) -> None:
        await _show_state(args, controller)(await controller.state())

    return _run(args, work, flags=False, metrics=False)


def _history(args: argparse.Namespace) -> int:
    if args.limit < 0:
        print(f"flagstream rollout history: --limit: must be 0 or more, got {args.limit}", file=sys.stderr)
        return 1

    async def work(controller: RolloutController) -> None:
        transitions = await controller.store.transitions()
        transitions = transitions[-args.limit :] if args.limit else transitions
        if args.json:
            emit_json([json.loads(transition_to_json(t)) for t in transitions])
        else:
            print_history(transitions)

    return _run(args, work, flags=False, metrics=False)


def _report(args: argparse.Namespace) -> int:
    async def work(controller: RolloutController) -> None:
        checks = await controller.store.checks()
        summaries = summarise(controller.plan, checks)
        suggestions = suggest(summaries)
        if args.html:
            from .report_html import render_report

            page = render_report(
                controller.plan, checks, await controller.store.transitions(), summaries, suggestions, controller.clock.now()
            )
            _write_report(args.html, page)
            print(f"wrote {args.html}: {len(summaries)} steps, {len(checks)} checks", file=sys.stderr)
        if args.json:
            emit_json(
                {"steps": [dataclasses.asdict(s) for s in summaries], "suggestions": [dataclasses.asdict(s) for s in suggestions]}
            )
        else:
            print_report(summaries, suggestions)

    return _run(args, work, flags=False, metrics=False)


def _write_report(path: str, page: str) -> None:
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise RolloutError(f"--html: cannot write {path}: {exc.strerror}") from None


def _watch(args: argparse.Namespace) -> int:
    from observability.rollout_metrics import create_rollout_metrics, serve_rollout_metrics

    metrics = create_rollout_metrics()
    options = dataclasses.replace(_options(args), metrics=metrics)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore"):  # one line per scrape and per flag call would bury the decisions
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with open_controller(options, needs_flags=True, needs_metrics=True) as controller:
            if args.once:
                await controller.source.start()
                await controller.clock.sleep(controller.plan.steps[max((await controller.state()).step, 0)].interval)
                state = await controller.tick()
                await _show_state(args, controller)(state)
                return
            await controller.run(stop)

    stop_server = None
    try:
        if args.metrics_port is not None:
            stop_server = serve_rollout_metrics(metrics, args.metrics_port, args.metrics_host)
        asyncio.run(go())
    except OSError as exc:
        print(
            f"flagstream rollout watch: cannot serve metrics on {args.metrics_host}:{args.metrics_port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    except RolloutError as exc:
        print(f"flagstream rollout watch: {exc}", file=sys.stderr)
        return 1
    finally:
        if stop_server is not None:
            stop_server()
    return 0


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    env = os.environ.get
    common.add_argument(
        "--plan", default=env("FLAGSTREAM_ROLLOUT_PLAN", DEFAULT_PLAN), help="rollout plan TOML (default %(default)s)"
    )
    common.add_argument(
        "--state",
        default=env("FLAGSTREAM_ROLLOUT_STATE", DEFAULT_STATE),
        help="state file path, or a redis:// URL (default %(default)s)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    flags = common.add_argument_group("flag admin (commands that change the flag)")
    flags.add_argument("--flags-file", default=env("FLAGSTREAM_FLAGS_FILE"), help="local Unleash bootstrap JSON to edit")
    flags.add_argument("--unleash-url", default=env("FLAGSTREAM_UNLEASH_URL"), help="Unleash server (Admin API)")
    flags.add_argument("--unleash-admin-token", default=env("FLAGSTREAM_UNLEASH_ADMIN_TOKEN"), help="Unleash admin API token")
    flags.add_argument(
        "--unleash-project",
        default=env("FLAGSTREAM_UNLEASH_PROJECT", "default"),
        help="Unleash project (FLAGSTREAM_UNLEASH_PROJECT, as the service's; default %(default)s)",
    )
    flags.add_argument(
        "--unleash-environment",
        default=env("FLAGSTREAM_UNLEASH_ENVIRONMENT", "development"),
        help="Unleash environment (FLAGSTREAM_UNLEASH_ENVIRONMENT, as the service's; default %(default)s)",
    )
    source = common.add_argument_group("metrics (watch)")
    source.add_argument("--metrics-url", action="append", help="a service instance's /metrics; repeat for each instance")
    source.add_argument("--metrics-token", default=env("FLAGSTREAM_METRICS_TOKEN"), help="bearer token for /metrics")
    source.add_argument("--prometheus-url", default=env("FLAGSTREAM_PROMETHEUS_URL"), help="Prometheus server to query instead")
    return common


async def _start(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.start(_actor(), a.step)


async def _advance(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.advance(_actor(), force=a.force)


async def _pause(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.pause(_actor(), a.reason)


async def _resume(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.resume(_actor(), a.reason)


async def _approve(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.approve(_actor(), a.reason)


async def _rollback(c: RolloutController, a: argparse.Namespace) -> object:
    return await c.rollback(_actor(), a.reason)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollout = subparsers.add_parser("rollout", help="phased rollout of the SSE flag, gated on metrics")
    commands = rollout.add_subparsers(dest="rollout_command", metavar="COMMAND", required=True)
    common = _common_parser()

    def command(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        parser.set_defaults(handler=handler)
        return parser

    command("status", "phase, audience, time in phase, each gate's last value, and what happens next", _status)
    command("start", "apply the first step (or --step) and start progressing", _command(_start, flags=True)).add_argument(
        "--step", help="start at this step instead of the first"
    )
    command("advance", "go to the next step now (refused while a gate fails)", _command(_advance, flags=True)).add_argument(
        "--force", action="store_true", help="advance even though a gate is failing"
    )
    command("pause", "stop promotion (rollback stays armed)", _command(_pause, flags=False)).add_argument(
        "--reason", default="", help="recorded in the audit log"
    )
    command("resume", "resume promotion after a pause", _command(_resume, flags=False)).add_argument(
        "--reason", default="", help="recorded in the audit log"
    )
    command("approve", "let the rollout enter the step waiting for approval", _command(_approve, flags=True)).add_argument(
        "--reason", default="", help="recorded in the audit log"
    )
    command("rollback", "roll back now, as the plan says (previous step or off)", _command(_rollback, flags=True)).add_argument(
        "--reason", default="", help="recorded in the audit log"
    )
    command("history", "the audit log: every transition, who, why, and the gate values", _history).add_argument(
        "--limit", type=int, default=0, help="only the last N transitions"
    )
    command(
        "report", "per-step latency, errors, connections per user, slow consumers, and setting suggestions", _report
    ).add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page with charts")
    watch = command("watch", "run the controller: check gates every interval, promote or roll back", _watch)
    watch.add_argument("--metrics-port", type=int, help="serve rollout metrics on this port")
    watch.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the metrics listen on (default %(default)s; 0.0.0.0 for every interface)",
    )
    watch.add_argument(
        "--webhook-url", default=os.environ.get("FLAGSTREAM_ROLLOUT_WEBHOOK"), help="POST each transition here as JSON"
    )
    watch.add_argument("--once", action="store_true", help="take one measurement over the step's interval, act, and exit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flagstream")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status
