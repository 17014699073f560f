"""Optional webhook: each transition POSTed as JSON, retried with backoff, off the controller's path."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import Any

import httpx

from .masking import MaskingFilter, mask_text, mask_url
from .types import Transition

log = logging.getLogger("flagstream.rollout.webhook")


def transition_payload(flag: str, transition: Transition) -> dict[str, Any]:
    payload = dataclasses.asdict(transition)
    payload["flag"] = flag
    payload["gates"] = [reading.to_json() for reading in transition.gates]
    return payload


class WebhookNotifier:
    """Queues transitions and delivers them from its own task.

    ``notify`` never waits: a slow or dead receiver delays only its own deliveries, and
    when the queue is full the oldest pending one is dropped (and logged) rather than
    holding up a rollback.

    Example::

        notifier = WebhookNotifier("https://chat.example/hooks/rollout", flag="sse-delivery")
        notifier.start()
        controller = RolloutController(..., on_transition=notifier.notify)
        ...
        await notifier.close()
    """

    def __init__(
        self,
        url: str,
        flag: str,
        *,
        attempts: int = 5,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        queue_size: int = 100,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.where = mask_url(url)  # a Slack-style URL is itself the secret: logs show scheme and host
        self.flag = flag
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.delivered = 0
        self.failed = 0
        self._queue: asyncio.Queue[Transition] = asyncio.Queue(maxsize=queue_size)
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._task: asyncio.Task[None] | None = None
        # httpx logs every request's full URL at INFO.
        self._masking = MaskingFilter(url, str(httpx.URL(url)))

    def start(self) -> None:
        logging.getLogger("httpx").addFilter(self._masking)
        self._task = asyncio.create_task(self._deliver_forever(), name="rollout-webhook")

    def notify(self, transition: Transition) -> None:
        if self._queue.full():
            dropped = self._queue.get_nowait()
            self.failed += 1
            log.warning("webhook queue full; dropped the %s transition of %s", dropped.action, dropped.time)
        self._queue.put_nowait(transition)

    async def _deliver_forever(self) -> None:
        while True:
            transition = await self._queue.get()
            try:
                if await self._deliver(transition_payload(self.flag, transition)):
                    self.delivered += 1
                else:
                    self.failed += 1
            finally:
                self._queue.task_done()

    async def _deliver(self, payload: dict[str, Any]) -> bool:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(self.url, json=payload)
                if response.status_code < 400:
                    return True
                if response.status_code < 500 and response.status_code != 429:
                    log.warning("webhook %s refused the transition: HTTP %s", self.where, response.status_code)
                    return False
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = mask_text(f"{exc.__class__.__name__}: {exc}", self.url)
            if attempt == self.attempts:
                log.warning("webhook %s failed %d times, giving up: %s", self.where, attempt, problem)
                return False
            # Full jitter, so many controllers retrying after one outage do not arrive together.
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(delay * 2, self.max_delay)
        return False

    async def close(self, grace: float = 5.0) -> None:
        """Give pending deliveries ``grace`` seconds, then stop."""
        if self._task is not None:
            try:
                await asyncio.wait_for(self._queue.join(), grace)
            except TimeoutError:
                log.warning("webhook: %d transitions not delivered at shutdown", self._queue.qsize())
            self._task.cancel()
        await self._client.aclose()
        logging.getLogger("httpx").removeFilter(self._masking)
