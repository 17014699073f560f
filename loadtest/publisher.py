"""Publishing at a steady rate through the batch API, remembering what was accepted.

Each publishing task owns a fixed share of the users and keeps one POST in flight, so
a user's notifications are accepted (and get ids) in the order of their sequence
numbers; several tasks run side by side to reach the rate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx

from .types import EVENT_NAME

IDLE_TICK = 0.002


@dataclass
class Accepted:
    """What the server answered 202 to: per user, and for broadcasts, the sequence numbers."""

    per_user: dict[str, list[int]] = field(default_factory=dict)
    broadcasts: list[int] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    posts: int = 0

    @property
    def published(self) -> int:
        return sum(map(len, self.per_user.values())) + len(self.broadcasts)


class Publisher:
    def __init__(self, http: httpx.AsyncClient, url: str, publish_token: str, batch: int, interval: float) -> None:
        self.http = http
        self.url = url.rstrip("/") + "/v1/notifications"
        self.headers = {"Authorization": f"Bearer {publish_token}", "Content-Type": "application/json"}
        self.batch = batch
        self.interval = interval  # at most one POST per task per interval: publishers batch
        self.accepted = Accepted()
        self.stopped = False
        self.collapse_key: str | None = None

    async def notify(
        self, users: Sequence[str], rate: float, until: float, count: int | None, tasks: int, collapse_key: str | None = None
    ) -> None:
        """Per-user notifications, round robin over `users`, `rate` per second in total
        (each with `collapse_key` when given: the newest per user replaces the older ones)."""
        self.collapse_key = collapse_key
        tasks = max(1, min(tasks, len(users)))
        share = None if count is None else [count // tasks + (1 if i < count % tasks else 0) for i in range(tasks)]
        await asyncio.gather(
            *(
                self._notify_share(list(users[i::tasks]), rate / tasks, until, None if share is None else share[i])
                for i in range(tasks)
            )
        )

    async def broadcast(self, rate: float, until: float, count: int | None) -> None:
        async for sent, due, now in self._batches(rate, until, count):
            ns = list(range(sent, sent + due))
            body = [{"broadcast": True, "event": EVENT_NAME, "data": {"k": "b", "n": n, "t": now}} for n in ns]
            if await self._post(body):
                self.accepted.broadcasts.extend(ns)

    async def _notify_share(self, users: list[str], rate: float, until: float, count: int | None) -> None:
        next_n = {u: 0 for u in users}
        for u in users:
            self.accepted.per_user.setdefault(u, [])
        turn = 0
        async for _sent, due, now in self._batches(rate, until, count):
            picked: list[tuple[str, int]] = []
            for _ in range(due):
                user = users[turn % len(users)]
                turn += 1
                picked.append((user, next_n[user]))
                next_n[user] += 1
            body = [{"user_id": u, "event": EVENT_NAME, "data": {"k": "u", "n": n, "t": now}} for u, n in picked]
            if self.collapse_key is not None:
                for item in body:
                    item["collapse_key"] = self.collapse_key
            if await self._post(body):
                for u, n in picked:
                    self.accepted.per_user[u].append(n)

    async def _batches(self, rate: float, until: float, count: int | None) -> AsyncIterator[tuple[int, int, float]]:
        """(sent so far, how many to send now, now) at ``rate`` per second, paced by ``interval``,
        until ``until`` or ``count`` sent; each batch counts as sent once the caller posted it."""
        sent = 0
        start = time.monotonic()
        while not self._done(until, count, sent):
            due = self._due(rate, start, sent, count)
            if due == 0:
                await asyncio.sleep(IDLE_TICK)
                continue
            now = time.time()
            yield sent, due, now
            sent += due
            await self._pace(now)

    async def _pace(self, posted_at: float) -> None:
        wait = self.interval - (time.time() - posted_at)
        if wait > 0:
            await asyncio.sleep(wait)

    def _due(self, rate: float, start: float, sent: int, count: int | None) -> int:
        due = int(rate * (time.monotonic() - start)) - sent
        if count is not None:
            due = min(due, count - sent)
        return max(0, min(due, self.batch))

    def _done(self, until: float, count: int | None, sent: int) -> bool:
        if self.stopped:
            return True
        if count is not None:
            return sent >= count
        return time.monotonic() >= until

    async def _post(self, notifications: list[dict]) -> bool:
        self.accepted.posts += 1
        payload = json.dumps({"notifications": notifications}).encode()
        try:
            response = await self.http.post(self.url, content=payload, headers=self.headers)
        except httpx.HTTPError as exc:
            self._failed(type(exc).__name__)
            return False
        if response.status_code != 202:
            self._failed(f"HTTP {response.status_code}")
            return False
        return True

    def _failed(self, reason: str) -> None:
        self.accepted.failures[reason] = self.accepted.failures.get(reason, 0) + 1
