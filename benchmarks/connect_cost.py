"""What one connect costs in our code, without sockets: µs per `admit()` and per step of it.

The real app's Services (app factory, default settings, the shipped flags file through the
real Unleash engine, memory broker, stream rate limit on), one fresh user and token per
connect as `flagstream loadtest idle` makes them. Each step is timed on its own over fresh
users, then `admit()` as a whole; the best of ``--repeat`` rounds is printed.

    .venv/bin/python benchmarks/connect_cost.py            # 10,000 connects per round
    .venv/bin/python benchmarks/connect_cost.py -n 2000 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sse_service.app import create_app  # noqa: E402
from sse_service.auth import mint_token  # noqa: E402
from sse_service.config import load_settings  # noqa: E402
from sse_service.connection import Connection  # noqa: E402
from sse_service.services import Services  # noqa: E402
from sse_service.stream import StreamEndpoint  # noqa: E402
from sse_service.stream_admission import Open, admit  # noqa: E402
from sse_service.stream_tuning import StreamTuning  # noqa: E402

SECRET = "connect-cost-secret-0123456789abcdef"
_prefixes = itertools.count()

Step = Callable[[Services, str, str], Awaitable[Any] | Any]


def fresh_users(n: int) -> list[tuple[str, str]]:
    """`n` (user id, token) pairs never seen by the services before (no cache hit)."""
    prefix = f"cc{next(_prefixes)}-"
    return [(f"{prefix}{i}", mint_token(SECRET, f"{prefix}{i}")) for i in range(n)]


def _decide(s: Services, user: str, token: str) -> Any:
    return StreamTuning.resolve(s.settings, s.flags.decide(user).knobs)


def _connected(s: Services, user: str, token: str) -> bytes:
    """The `retry` + `connected` block a fresh stream starts with (stream.py)."""
    connection = Connection(user, queue_size=64, ping_interval=30.0, batch_window=0.0, expires_at=None, now=time.time())
    return StreamEndpoint(s)._connected(connection, None)


async def _admit(s: Services, user: str, token: str) -> None:
    answer = await admit(s, {"authorization": f"Bearer {token}"}, {})
    assert isinstance(answer, Open), answer
    await s.broker.release_lease(user, answer.connection.id)


STEPS: dict[str, Step] = {
    "token (TokenVerifier.user)": lambda s, user, token: s.verifier.user(token),
    "flags (decide + tuning)": _decide,
    "rate limit (allow_stream)": lambda s, user, token: s.rate_limits.allow_stream(user),
    "admit() as a whole": _admit,
    "Connection + `connected` block": _connected,
}


async def time_step(s: Services, step: Step, users: list[tuple[str, str]]) -> float:
    """µs per call of ``step`` over ``users`` (garbage collection as in the server: on)."""
    started = time.perf_counter()
    for user, token in users:
        result = step(s, user, token)
        if asyncio.iscoroutine(result):
            await result
    return (time.perf_counter() - started) / len(users) * 1e6


async def main(n: int, repeat: int) -> None:
    settings = load_settings(env={}, overrides={"jwt_secret": SECRET, "log_level": "warning"})
    s: Services = create_app(settings).extensions["flagstream"]
    await s.verifier.start()
    await s.start()
    gc.freeze()  # as the server does before serving
    try:
        best: dict[str, float] = {}
        for _ in range(repeat):
            for name, step in STEPS.items():
                cost = await time_step(s, step, fresh_users(n))
                best[name] = min(best.get(name, cost), cost)
        print(f"µs per connect, best of {repeat} rounds of {n:,} fresh users (flags: {s.flags.health().source})")
        for name, cost in best.items():
            print(f"  {name:<30} {cost:8.1f}")
    finally:
        await s.stop()
        await s.verifier.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000, help="connects per round (default 10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is printed (default 3)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.repeat))
