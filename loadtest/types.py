"""Values shared by the load generator's parts: the plan, what a worker saw, the report."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

SCENARIOS = ("idle", "notify", "broadcast", "storm", "mixed", "collapse")
COLLAPSE_KEY = "progress"  # the one collapse key per user of the `collapse` scenario
EVENT_NAME = "lt"  # the event name the generator publishes and counts


@dataclass(frozen=True)
class LoadPlan:
    url: str
    scenario: str
    connections: int
    workers: int
    duration: float  # seconds of load (after every stream is connected)
    count: int | None  # stop after this many publishes instead (per kind)
    rate: float  # per-user notifications per second (notify, storm, mixed)
    broadcast_rate: float  # broadcasts per second (broadcast, mixed)
    batch: int  # notifications per POST at most
    publishers: int  # concurrent publishing tasks (each keeps its users in order)
    publish_interval: float  # seconds between one task's POSTs, at least
    connect_concurrency: int  # handshakes in flight per worker
    storm_rounds: int
    publish_token: str
    tokens: tuple[tuple[str, str], ...]  # (user_id, token) per stream
    drain_timeout: float = 15.0
    server_pid: int | None = None  # read CPU and RSS from /proc instead of /metrics
    json_output: bool = False
    progress: bool = True


@dataclass
class StreamTally:
    """What one stream received, kept cheap: appends only, checked at the end."""

    user_id: str
    user_ns: array = field(default_factory=lambda: array("q"))  # per-user sequence numbers, as received
    broadcast_ns: array = field(default_factory=lambda: array("q"))
    out_of_order_ids: int = 0  # an event that repeated the previous event's id (ids are opaque)
    resets: int = 0
    connects: int = 0
    unanchored_reconnects: int = 0  # came back with no Last-Event-ID to resume from


@dataclass
class WorkerResult:
    tallies: list[StreamTally]
    latencies: array  # seconds, publish → receive, one per delivery
    rejections: dict[int, int]  # HTTP status → count
    errors: dict[str, int]  # transport errors and unexpected statuses
    closes: dict[str, int]  # final events the server sent (shutdown, overflow…)
    connect_seconds: array  # per handshake: socket open → `connected`


@dataclass(frozen=True)
class ServerSample:
    at: float
    cpu_seconds: float | None
    rss_bytes: float | None


@dataclass(frozen=True)
class Verification:
    expected: int
    delivered: int
    lost: int
    duplicated: int
    out_of_order: int
    resets: int
    lost_unanchored: int = 0  # on streams that reconnected before they had any id (see docs/performance.md)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.out_of_order == 0 and self.resets == 0


@dataclass(frozen=True)
class LoadReport:
    scenario: str
    connections: int
    connected: int
    connect_seconds: float | None  # first attempt → last `connected`
    connect_rate: float | None
    handshake_ms: dict[str, float]  # per-stream handshake percentiles
    published: int
    publish_seconds: float
    publishes_per_second: float
    publish_failures: dict[str, int]
    delivered: int
    deliveries_per_second: float
    latency_ms: dict[str, float]  # p50 p90 p99 p99.9 max
    verification: Verification
    rejections: dict[int, int]
    errors: dict[str, int]
    closes: dict[str, int]
    server_cpu_percent: float | None
    server_cpu_us_per_delivery: float | None  # server CPU time over the load phase / deliveries
    server_cpu_us_per_connect: float | None  # server CPU time over the connect phase / streams
    server_rss_before_mib: float | None
    server_rss_after_mib: float | None
    memory_per_stream_kib: float | None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        unexpected = {s: n for s, n in self.rejections.items() if s not in (429, 503)}
        return self.verification.ok and not unexpected and not self.errors and self.connected == self.connections
