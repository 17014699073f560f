"""Building a controller from options: shared by `flagstream rollout` and the service
(`sse_service/rollout_factory.py` runs it in the serving lifecycle)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from flags.types import FlagAdmin, FlagConfigError
from observability.rollout_metrics import RolloutMetrics

from .clock import SystemClock
from .controller import RolloutController
from .gates import custom_queries
from .plan import load_plan
from .sources import PrometheusSource, ScrapeSource
from .store import open_store
from .types import Clock, MetricSource, Plan, RolloutError
from .webhook import WebhookNotifier

DEFAULT_PLAN = "rollout.toml"
DEFAULT_STATE = ".flagstream/rollout-state.json"


@dataclass(frozen=True)
class RolloutOptions:
    plan: str = DEFAULT_PLAN
    state: str = DEFAULT_STATE  # a file path, or a redis:// URL
    flags_file: str | None = None
    unleash_url: str | None = None
    unleash_admin_token: str | None = None
    unleash_project: str = "default"
    unleash_environment: str = "development"
    metrics_urls: tuple[str, ...] = ()
    metrics_token: str | None = None
    prometheus_url: str | None = None
    webhook_url: str | None = None
    metrics: RolloutMetrics | None = field(default=None, compare=False)


def build_flag_admin(options: RolloutOptions, flag: str) -> FlagAdmin:
    if not (options.flags_file or options.unleash_url):
        raise RolloutError("this command changes the flag: give --flags-file or --unleash-url")
    import flags  # the real backends; imported here so read-only commands work without them

    try:
        return flags.build_flag_admin(
            flags_file=options.flags_file,
            unleash_url=options.unleash_url,
            admin_token=options.unleash_admin_token,
            project=options.unleash_project,
            environment=options.unleash_environment,
            flag=flag,
        )
    except FlagConfigError as exc:
        raise RolloutError(f"flag admin: {exc}") from None


def build_source(options: RolloutOptions, plan: Plan, clock: Clock) -> MetricSource:
    if options.prometheus_url:
        return PrometheusSource(options.prometheus_url)
    queries = custom_queries(plan)
    if queries:
        raise RolloutError(f"gate {next(iter(queries))!r} is a PromQL query: it needs --prometheus-url")
    if not options.metrics_urls:
        raise RolloutError("the controller needs metrics: give --metrics-url (the service's /metrics) or --prometheus-url")
    return ScrapeSource(list(options.metrics_urls), clock, token=options.metrics_token)


@contextlib.asynccontextmanager
async def open_controller(
    options: RolloutOptions,
    *,
    needs_flags: bool,
    needs_metrics: bool,
    clock: Clock | None = None,
) -> AsyncIterator[RolloutController]:
    """A controller for one command; the store, source and webhook are closed afterwards."""
    clock = clock or SystemClock()
    plan = load_plan(options.plan)
    admin = build_flag_admin(options, plan.flag) if needs_flags else None
    source = build_source(options, plan, clock) if needs_metrics else None
    store = open_store(options.state, plan.flag)
    notifier = WebhookNotifier(options.webhook_url, plan.flag) if options.webhook_url else None
    on_transition = notifier.notify if notifier else None
    if notifier:
        notifier.start()
    try:
        yield RolloutController(plan, store, admin, source, clock=clock, metrics=options.metrics, on_transition=on_transition)
    finally:
        if notifier:
            await notifier.close()
        if source is not None:
            await source.close()
        await store.close()
