"""Metric sources: the service's own /metrics scraped and differenced, or Prometheus' HTTP API."""

from __future__ import annotations

import asyncio
import math

import httpx

from observability.exposition import ExpositionError, Scrape, histogram_quantile, merge_scrapes, parse_exposition

from .types import Clock, RolloutError, WindowSample

LATENCY = "sse_delivery_latency_seconds"
HEALTH_REJECTIONS = ("user_limit", "global_limit", "draining")
HTTP_TIMEOUT = 10.0


def _window_from_scrape(window: Scrape, seconds: float) -> WindowSample:
    buckets = window.buckets(LATENCY)
    rejected = window.value("sse_connections_rejected_total")
    return WindowSample(
        window_seconds=seconds,
        delivered=window.value("sse_events_delivered_total"),
        latency_count=window.value(LATENCY + "_count"),
        latency_p50=histogram_quantile(0.5, buckets),
        latency_p90=histogram_quantile(0.9, buckets),
        latency_p99=histogram_quantile(0.99, buckets),
        published=window.value("sse_events_published_total"),
        errors=window.value("sse_errors_total"),
        connection_attempts=window.value("sse_connections_opened_total") + rejected,
        streams_opened=window.value("sse_connections_opened_total"),
        reconnects=_present(window, "sse_reconnects_total"),
        rejected_by_health=sum(window.value("sse_connections_rejected_total", reason=r) for r in HEALTH_REJECTIONS),
        rejected_user_limit=window.value("sse_connections_rejected_total", reason="user_limit"),
        overflow_disconnects=window.value("sse_connections_closed_total", reason="overflow"),
        connections=window.value("sse_connections"),
        users=window.value("sse_users_connected"),
        users_with_many_connections=window.value("sse_users_by_connection_count", connections="5+"),
        connections_limit=window.value("sse_connections_limit"),
    )


def _present(window: Scrape, name: str) -> float | None:
    """A counter's increase, or None when the service does not export it (an older version)."""
    if not any(key[0] == name for key in window.samples):
        return None
    return window.value(name)


class ScrapeSource:
    """Scrapes each instance's /metrics and differences against the previous scrape.

    The window is whatever passed since the previous check, measured, not assumed.
    A counter that went down (an instance restarted) makes that window unknown: no data.
    """

    def __init__(self, urls: list[str], clock: Clock, token: str | None = None, client: httpx.AsyncClient | None = None) -> None:
        if not urls:
            raise RolloutError("the scrape source needs at least one --metrics-url")
        self.urls = urls
        self.clock = clock
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT)
        self._baseline: tuple[float, Scrape] | None = None

    async def _scrape_one(self, url: str) -> Scrape:
        try:
            response = await self._client.get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise RolloutError(f"cannot scrape {url}: {exc.__class__.__name__}: {exc}") from None
        if response.status_code != 200:
            raise RolloutError(f"cannot scrape {url}: HTTP {response.status_code}")
        try:
            return parse_exposition(response.text)
        except ExpositionError as exc:
            raise RolloutError(f"{url}: {exc}") from None

    async def _scrape(self) -> tuple[float, Scrape]:
        scrapes = await asyncio.gather(*(self._scrape_one(url) for url in self.urls))
        return self.clock.now(), merge_scrapes(scrapes)

    async def start(self) -> None:
        self._baseline = await self._scrape()

    async def sample(self, window_seconds: float, queries: dict[str, str]) -> WindowSample | None:
        now, scrape = await self._scrape()
        baseline, self._baseline = self._baseline, (now, scrape)
        if baseline is None or now <= baseline[0]:
            return None
        window = scrape.increase_since(baseline[1])
        return None if window is None else _window_from_scrape(window, now - baseline[0])

    async def close(self) -> None:
        await self._client.aclose()


def _promql(window: str) -> dict[str, str]:
    def inc(selector: str) -> str:
        return f"sum(increase({selector}[{window}]))"

    def quantile(q: float) -> str:

        return f"histogram_quantile({q}, sum by (le) (rate({LATENCY}_bucket[{window}])))"

    health = "|".join(HEALTH_REJECTIONS)
    return {
        "delivered": inc("sse_events_delivered_total"),
        "latency_count": inc(f"{LATENCY}_count"),
        "latency_p50": quantile(0.5),
        "latency_p90": quantile(0.9),
        "latency_p99": quantile(0.99),
        "published": inc("sse_events_published_total"),
        "errors": inc("sse_errors_total"),
        "opened": inc("sse_connections_opened_total"),
        "rejected": inc("sse_connections_rejected_total"),
        "reconnects": inc("sse_reconnects_total"),
        "rejected_by_health": inc(f'sse_connections_rejected_total{{reason=~"{health}"}}'),
        "rejected_user_limit": inc('sse_connections_rejected_total{reason="user_limit"}'),
        "overflow_disconnects": inc('sse_connections_closed_total{reason="overflow"}'),
        "connections": "sum(sse_connections)",
        "users": "sum(sse_users_connected)",
        "users_with_many_connections": 'sum(sse_users_by_connection_count{connections="5+"})',
        "connections_limit": "sum(sse_connections_limit)",
    }


class PrometheusSource:
    """Asks a Prometheus server (HTTP API, instant queries over a `[window]` range)."""

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT)

    async def query(self, promql: str) -> float | None:
        """The sum of an instant vector or a scalar; None when empty or NaN."""
        url = f"{self.base_url}/api/v1/query"
        try:
            response = await self._client.get(url, params={"query": promql})
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RolloutError(f"cannot query Prometheus at {self.base_url}: {exc}") from None
        if body.get("status") != "success":
            raise RolloutError(f"Prometheus refused {promql!r}: {body.get('error', response.status_code)}")
        data = body["data"]
        if data["resultType"] == "scalar":
            values = [float(data["result"][1])]
        elif data["resultType"] == "vector":
            values = [float(item["value"][1]) for item in data["result"]]
        else:
            raise RolloutError(f"Prometheus answered a {data['resultType']} to {promql!r}; a gate needs one number")
        values = [v for v in values if not math.isnan(v)]
        return sum(values) if values else None

    async def start(self) -> None:
        await self.query("vector(1)")  # fail early and clearly if Prometheus is unreachable

    async def sample(self, window_seconds: float, queries: dict[str, str]) -> WindowSample | None:
        window = f"{max(round(window_seconds), 1)}s"
        builtin = _promql(window)
        values = await asyncio.gather(*(self.query(q) for q in list(builtin.values()) + list(queries.values())))
        got = dict(zip(builtin, values[: len(builtin)]))
        custom = dict(zip(queries, values[len(builtin) :]))

        def number(name: str) -> float:
            return got[name] or 0.0

        return WindowSample(
            window_seconds=window_seconds,
            delivered=number("delivered"),
            latency_count=number("latency_count"),
            latency_p50=got["latency_p50"],
            latency_p90=got["latency_p90"],
            latency_p99=got["latency_p99"],
            published=number("published"),
            errors=number("errors"),
            connection_attempts=number("opened") + number("rejected"),
            streams_opened=number("opened"),
            reconnects=got["reconnects"],  # None: no such series (a service that does not count them)
            rejected_by_health=number("rejected_by_health"),
            rejected_user_limit=number("rejected_user_limit"),
            overflow_disconnects=number("overflow_disconnects"),
            connections=number("connections"),
            users=number("users"),
            users_with_many_connections=number("users_with_many_connections"),
            connections_limit=number("connections_limit"),
            queries=custom,
        )

    async def close(self) -> None:
        await self._client.aclose()
