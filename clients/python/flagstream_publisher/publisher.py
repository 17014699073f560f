"""`Publisher` (sync, httpx.Client) and `AsyncPublisher` (httpx.AsyncClient)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import httpx

from .attempts import Attempts, Stored, Wait
from .retry import RetryPolicy
from .types import Notification

DEFAULT_MAX_BATCH = 1000  # the server's MAX_BATCH default; set it to the server's value


class _Common:
    def __init__(
        self, url: str, token: str, *, max_batch: int = DEFAULT_MAX_BATCH, retry: RetryPolicy | None = None, timeout: float = 10.0
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.endpoint = url.rstrip("/") + "/v1/notifications"
        self.max_batch = max_batch
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def batches(self, notifications: Iterable[Notification]) -> Iterator[tuple[int, list[Notification]]]:
        """Keyed notifications in batches of at most max_batch, with the first one's index."""
        keyed = [n.with_key() for n in notifications]
        for offset in range(0, len(keyed), self.max_batch):
            yield offset, keyed[offset : offset + self.max_batch]

    def conversation(self, notifications: Iterable[Notification]) -> Generator[dict[str, Any] | Wait, Any, list[list[str]]]:
        """Every publish, without I/O: yields a body to POST (and is sent back the response
        or the transport error) or a `Wait`; returns the ids, one list per notification."""
        published: list[list[str]] = []
        for offset, batch in self.batches(notifications):
            attempts = Attempts(self.retry, offset=offset, published=published)
            body = self.body(batch)
            while True:
                answer = yield body
                if isinstance(answer, Exception):
                    outcome: Stored | Wait = attempts.failed(answer)
                else:
                    outcome = attempts.answered(answer.status_code, answer.headers, answer.content)
                if isinstance(outcome, Stored):
                    published.extend(self.split(batch, outcome.ids))
                    break
                yield outcome
        return published

    @staticmethod
    def body(batch: list[Notification]) -> dict[str, Any]:
        return {"notifications": [n.body() for n in batch]}

    @staticmethod
    def split(batch: list[Notification], ids: list[str]) -> list[list[str]]:
        """The flat ids of a batch, one list per notification."""
        result, start = [], 0
        for notification in batch:
            result.append(ids[start : start + notification.id_count])
            start += notification.id_count
        return result


class Publisher(_Common):
    """Blocking publisher; thread-safe as httpx.Client is. Use as a context manager or close()."""

    def __init__(self, url: str, token: str, *, client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(url, token, **options)
        self._own = client is None
        self._client = client or httpx.Client(timeout=self.timeout)

    def publish(self, notification: Notification) -> list[str]:
        """Store one notification; its ids (one per recipient, one for a broadcast)."""
        return self.publish_many([notification])[0]

    def publish_many(self, notifications: Iterable[Notification]) -> list[list[str]]:
        """Store every notification, in batches of at most max_batch; ids in input order."""
        conversation = self.conversation(notifications)
        try:
            step = next(conversation)
            while True:
                if isinstance(step, Wait):
                    time.sleep(step.seconds)
                    step = conversation.send(None)
                    continue
                try:
                    answer: Any = self._client.post(self.endpoint, json=step, headers=self.headers)
                except httpx.TransportError as exc:
                    answer = exc
                step = conversation.send(answer)
        except StopIteration as done:
            return done.value

    def close(self) -> None:
        if self._own:
            self._client.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPublisher(_Common):
    """The same for asyncio. Use as an async context manager or await aclose()."""

    def __init__(self, url: str, token: str, *, client: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(url, token, **options)
        self._own = client is None
        self._client = client or httpx.AsyncClient(timeout=self.timeout)

    async def publish(self, notification: Notification) -> list[str]:
        return (await self.publish_many([notification]))[0]

    async def publish_many(self, notifications: Iterable[Notification]) -> list[list[str]]:
        conversation = self.conversation(notifications)
        try:
            step = next(conversation)
            while True:
                if isinstance(step, Wait):
                    await asyncio.sleep(step.seconds)
                    step = conversation.send(None)
                    continue
                try:
                    answer: Any = await self._client.post(self.endpoint, json=step, headers=self.headers)
                except httpx.TransportError as exc:
                    answer = exc
                step = conversation.send(answer)
        except StopIteration as done:
            return done.value

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
