"""Listeners that resume with Last-Event-ID, a publisher that retries with the same
idempotency keys, and the check that what was accepted is what was received.

Each round publishes one notification per user, `data = {"u": user, "n": round}`, with the
idempotency key `<run>-<user>-<round>`; a round is retried (same body, same keys) until it
is accepted, so a lost response never becomes a lost or a doubled notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from flagstream_client import BackoffPolicy, ClientOptions, NotificationClient
from sse_service.auth import mint_token

LISTENER_OPTIONS = ClientOptions(
    backoff=BackoffPolicy(minimum=0.05, maximum=1.0),
    poll_interval=0.2,
    stream_retry_after=1.0,
    connect_timeout=2.0,
    default_ping_interval=1.0,
)


@dataclass
class Round:
    n: int
    accepted_at: float  # monotonic: when the 202 came back
    attempts: int


class Publisher:
    """Publishes rounds one after another (so each user's order is the round order)."""

    def __init__(
        self, url: str, token: str, users: Sequence[str], *, timeout: float = 2.0, give_up_after: float = 60.0, pad: int = 0
    ) -> None:
        self.url = url
        self.users = list(users)
        self.rounds: list[Round] = []
        self.failures: dict[str, int] = {}
        self._token = token
        self._run = secrets.token_hex(4)
        self._timeout = timeout
        self._give_up_after = give_up_after
        self._pad = "x" * pad  # makes notifications big (a slow consumer's socket fills)
        self._http = httpx.AsyncClient(timeout=timeout)

    @property
    def accepted(self) -> int:
        return len(self.rounds)

    async def publish_round(self) -> Round:
        n = len(self.rounds) + 1
        data = {"pad": self._pad} if self._pad else {}
        body = {
            "notifications": [
                {"user_id": u, "data": {"u": u, "n": n, **data}, "idempotency_key": f"{self._run}-{u}-{n}"} for u in self.users
            ]
        }
        deadline = time.monotonic() + self._give_up_after
        attempts = 0
        while True:
            attempts += 1
            outcome = await self._post(body)
            if outcome == "accepted":
                accepted = Round(n, time.monotonic(), attempts)
                self.rounds.append(accepted)
                return accepted
            self.failures[outcome] = self.failures.get(outcome, 0) + 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"round {n} not accepted within {self._give_up_after:g} s ({self.failures})")
            await asyncio.sleep(min(0.05 * attempts, 0.5))

    async def _post(self, body: dict) -> str:
        try:
            response = await self._http.post(
                f"{self.url}/v1/notifications",
                json=body,
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError as exc:
            return type(exc).__name__
        if response.status_code == 202:
            return "accepted"
        return f"http {response.status_code}"

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            await self.publish_round()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def close(self) -> None:
        await self._http.aclose()


@dataclass
class Received:
    rounds: list[int] = field(default_factory=list)  # `n` of each notification, in order of arrival
    times: list[float] = field(default_factory=list)  # monotonic arrival time of each


class Listeners:
    """One NotificationClient per user, in the background, recording what arrives."""

    def __init__(self, url: str, jwt_secret: str, users: Sequence[str], options: ClientOptions = LISTENER_OPTIONS) -> None:
        self.url = url
        self.received = {u: Received() for u in users}
        self.clients: dict[str, NotificationClient] = {}
        self._secret = jwt_secret
        self._options = options
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=None))
        self._changed = asyncio.Event()

    def start(self, user: str, last_event_id: str | None = None) -> None:
        token = mint_token(self._secret, user, ttl=3600)
        client = NotificationClient(self.url, lambda: token, last_event_id=last_event_id, options=self._options, http=self._http)
        self.clients[user] = client
        self._tasks[user] = asyncio.create_task(self._pump(user, client), name=f"listener-{user}")

    def start_all(self) -> None:
        for user in self.received:
            self.start(user)

    async def stop(self, user: str) -> str | None:
        """Stop one listener (the user goes offline); returns its cursor to resume from."""
        task = self._tasks.pop(user)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return self.clients[user].last_event_id

    async def _pump(self, user: str, client: NotificationClient) -> None:
        received = self.received[user]
        async for notification in client:
            data = notification.data
            if isinstance(data, dict) and data.get("u") == user:
                received.rounds.append(int(data["n"]))
                received.times.append(time.monotonic())
                self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            self._raise_if_crashed()
        return True

    async def connected(self, timeout: float = 30) -> None:
        if not await self.until(lambda: all(c.stats.connects for c in self.clients.values()), timeout):
            raise RuntimeError("not every listener connected")

    def have_round(self, n: int) -> bool:
        return all(n in r.rounds for r in self.received.values())

    def longest_silence(self) -> float:
        """The longest time any user went without a notification (publishing included)."""
        return max((b - a for r in self.received.values() for a, b in zip(r.times, r.times[1:])), default=0.0)

    def _raise_if_crashed(self) -> None:
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    @property
    def resets(self) -> int:
        return sum(c.stats.resets for c in self.clients.values())

    def endings(self) -> dict[str, int]:
        total: dict[str, int] = {"network error": 0}
        for c in self.clients.values():
            for name, count in c.stats.endings.items():
                total[name] = total.get(name, 0) + count
            total["network error"] += c.stats.network_errors
        return total

    async def close(self) -> None:
        for user in list(self._tasks):
            await self.stop(user)
        await self._http.aclose()


@dataclass(frozen=True)
class Verdict:
    """Per user, accepted rounds against received rounds."""

    users: int
    accepted: int  # notifications accepted (202), all users
    delivered: int  # distinct accepted notifications received
    lost: int
    duplicated: int
    out_of_order: int  # users whose arrivals were not in publish order
    unexpected: int  # received but never accepted
    resets: int
    lost_without_reset: int  # lost by users whose client was never told (`reset`)

    @property
    def exactly_once_in_order(self) -> bool:
        return self.lost == self.duplicated == self.out_of_order == self.unexpected == 0


def verify(publisher: Publisher, listeners: Listeners) -> Verdict:
    accepted = [r.n for r in publisher.rounds]
    expected = set(accepted)
    lost = duplicated = out_of_order = unexpected = delivered = lost_silently = 0
    for user, received in listeners.received.items():
        got = received.rounds
        seen = set(got)
        delivered += len(seen & expected)
        missing = len(expected - seen)
        lost += missing
        duplicated += len(got) - len(seen)
        unexpected += len(seen - expected)
        if got != sorted(seen):
            out_of_order += 1
        client = listeners.clients.get(user)
        if missing and (client is None or client.stats.resets == 0):
            lost_silently += missing
    return Verdict(
        len(listeners.received),
        len(accepted) * len(listeners.received),
        delivered,
        lost,
        duplicated,
        out_of_order,
        unexpected,
        listeners.resets,
        lost_silently,
    )
