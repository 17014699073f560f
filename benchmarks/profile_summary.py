"""py-spy's collapsed stacks → where the server's time goes, by part of the stack."""

from __future__ import annotations

from collections import Counter

# First match wins, checked from the innermost frame outwards: the part that did the work.
CATEGORIES = (
    (
        "metrics and admin stats",
        ("prometheus_client/", "observability/metrics.py", "observability/http_metrics.py", "observability/stats.py"),
    ),
    ("tracing", ("opentelemetry/", "observability/tracing", "sse_service/tracing_hooks.py")),
    ("flags (gate, Unleash engine)", ("flags/", "UnleashClient/", "yggdrasil_engine/")),
    ("JWT verification", ("jwt/", "sse_service/auth.py")),
    ("socket writes (transport)", ("asyncio/streams.py", "uvloop/", "asyncio/selector_events.py")),
    ("HTTP framing (hypercorn, h11)", ("hypercorn/", "h11/")),
    ("publish route (Quart, parsing, JSON)", ("quart/", "werkzeug/", "sse_service/publishing.py", "json/")),
    ("connection queues (connection.py)", ("sse_service/connection.py",)),
    ("stream writer (stream.py, sse.py)", ("sse_service/stream.py", "sse_service/sse.py")),
    ("hub dispatch (hub.py)", ("sse_service/hub.py",)),
    ("broker and worker", ("sse_service/broker/", "sse_service/worker.py", "redis/")),
    ("asyncio scheduling", ("asyncio/",)),
)


def summarize(collapsed: str) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, per category, top self frames) from py-spy's `--format raw` output."""
    categories: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        stack_frames = stack.split(";")
        frames[stack_frames[-1]] += count
        categories[_category(stack_frames)] += count
    return total, categories.most_common(), frames.most_common(12)


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(needle in frame for needle in needles):
                return name
    return "other"
