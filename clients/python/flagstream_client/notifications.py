"""`NotificationClient`: every notification of one user, over SSE when it can, by polling when not.

It follows the contract in API.md: resume with `Last-Event-ID`, and after each way a
stream can end do what the shared table reconnect-policy.json says (the browser client and
the load generator follow the same one): back off with full jitter, honour `Retry-After`,
poll the inbox on 204, `disabled` or `evicted`, fetch a fresh token on `reauth` or 401,
refetch the inbox on `reset` or a 422; and drop a stream that stays silent for twice its
ping interval.

Example::

    async with httpx.AsyncClient() as http:
        client = NotificationClient("http://127.0.0.1:8080", token=get_token, http=http)
        async for notification in client:
            print(notification.id, notification.event, notification.data)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from httpx_sse import EventSource

from .backoff import Backoff, retry_after_seconds
from .reconnect_policy import Rule, delay_seconds, rule_for, situation_of_ending, situation_of_status
from .types import AuthenticationFailed, ClientOptions, ClientStats, Notification, TokenProvider

SEEN_IDS_KEPT = 4096  # enough to drop the overlap between a stream and an inbox refetch
FINAL_EVENTS = ("disabled", "reauth", "overflow", "shutdown", "evicted")


@dataclass(frozen=True, slots=True)
class _Reconnect:
    delay: float


@dataclass(frozen=True, slots=True)
class _Poll:
    first_delay: float = 0.0  # after a kill switch, users spread their first inbox poll


@dataclass(frozen=True, slots=True)
class _Reauth:
    delay: float = 0.0


_Outcome = _Reconnect | _Poll | _Reauth


class NotificationClient:
    def __init__(
        self,
        url: str,
        token: str | TokenProvider,
        *,
        last_event_id: str | None = None,
        options: ClientOptions | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.options = options or ClientOptions()
        self.last_event_id = last_event_id
        self.mode = "stream"  # or "polling"
        self.stats = ClientStats()
        self._provider = token
        self._token: str | None = token if isinstance(token, str) else None
        self._http = http
        self._backoff = Backoff(self.options.backoff)
        self._seen: deque[str] = deque(maxlen=SEEN_IDS_KEPT)
        self._seen_set: set[str] = set()
        self._auth_failures = 0
        self._attempts = 0
        self._first_poll_delay = 0.0

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self.notifications()

    async def notifications(self) -> AsyncIterator[Notification]:
        async with self._client() as http:
            while True:
                if self.mode == "polling":
                    async for item in self._poll_for_a_while(http, self._first_poll_delay):
                        yield item
                    self.mode, self._first_poll_delay = "stream", 0.0
                    continue
                outcome: _Outcome = _Reconnect(0.0)
                stream = self._stream_once(http)
                async for item in stream:
                    if isinstance(item, Notification):
                        yield item
                    else:
                        outcome = item
                await self._after(outcome)

    # -- one stream -------------------------------------------------------------------
    async def _stream_once(self, http: httpx.AsyncClient) -> AsyncIterator[Notification | _Outcome]:
        if self._attempts:
            self.stats.reconnects += 1
        self._attempts += 1
        headers = {"Authorization": f"Bearer {await self._current_token()}", "Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = httpx.Timeout(self.options.connect_timeout, read=None)
        watchdog = 2 * self.options.default_ping_interval
        try:
            async with contextlib.AsyncExitStack() as opened:
                # A server behind a black hole accepts nothing and answers nothing: the response
                # must start within the connect timeout (the stream itself has no read timeout).
                async with asyncio.timeout(self.options.connect_timeout):
                    response = await opened.enter_async_context(
                        http.stream("GET", f"{self.url}/v1/stream", headers=headers, timeout=timeout)
                    )
                if response.status_code != 200:
                    rule = self._refused(response.status_code)
                    if rule.action == "drop-cursor-and-refetch-inbox":  # a Last-Event-ID it does not know
                        self.last_event_id = None
                        async for item in self._refetch_inbox(http):
                            yield item
                    yield self._outcome(rule, retry_after_seconds(response.headers.get("retry-after")))
                    return
                events = EventSource(response).aiter_sse()
                while True:
                    try:
                        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                        # cancellation that races the read, and the client would never stop.
                        async with asyncio.timeout(watchdog):
                            sse = await anext(events)
                    except StopAsyncIteration:
                        self.stats.network_errors += 1  # ended without a final event
                        yield self._outcome(rule_for("stream-ended"))
                        return
                    except TimeoutError:
                        self.stats.watchdog_timeouts += 1
                        yield self._outcome(rule_for("network-error"))
                        return
                    name = sse.event
                    if name in FINAL_EVENTS:
                        self.stats.endings[name] = self.stats.endings.get(name, 0) + 1
                        ending = rule_for(situation_of_ending(name, sse.retry) or "stream-ended")
                        yield self._outcome(ending, max(sse.retry or 0, 0) / 1000)
                        return
                    if name == "connected":
                        details = json.loads(sse.data)
                        watchdog = 2 * float(details.get("ping_interval", self.options.default_ping_interval))
                        self.stats.connects += 1
                        if rule_for("connected").resets_backoff:
                            self._backoff.succeeded()
                        self._auth_failures = 0
                        if sse.id and self.last_event_id is None:
                            # A fresh stream names its starting point: resume from there.
                            self.last_event_id = sse.id
                    elif name == "ping":
                        continue
                    elif name == "reset":
                        self.stats.resets += 1
                        async for item in self._refetch_inbox(http):
                            yield item
                    elif sse.id:
                        notification = self._accept(sse.id, name, sse.data, "stream")
                        if notification is not None:
                            yield notification
        except (httpx.TransportError, json.JSONDecodeError, TimeoutError):
            self.stats.network_errors += 1
            yield self._outcome(rule_for("network-error"))

    def _refused(self, status: int) -> Rule:
        self.stats.rejections[status] = self.stats.rejections.get(status, 0) + 1
        return rule_for(situation_of_status(status))

    def _outcome(self, rule: Rule, told: float = 0.0) -> _Outcome:
        """What the table's rule means for this client (`told`: the server's Retry-After or retry:)."""
        window = self.options.first_poll_jitter
        delay = delay_seconds(
            rule,
            self._backoff,
            told=told,
            unauthorized_streak=self._auth_failures + 1,
            poll_jitter_window=self.options.poll_interval if window is None else window,
        )
        if rule.action == "poll":
            return _Poll(delay)
        if rule.action == "refresh-token-then-reconnect":
            return _Reauth(delay)
        return _Reconnect(delay)

    async def _after(self, outcome: _Outcome) -> None:
        if isinstance(outcome, _Poll):
            self.mode = "polling"
            self._first_poll_delay = outcome.first_delay
        elif isinstance(outcome, _Reauth):
            if outcome.delay > 0:
                await asyncio.sleep(outcome.delay)
            await self._refresh_token()
        elif outcome.delay > 0:
            await asyncio.sleep(outcome.delay)

    # -- polling fallback ---------------------------------------------------------------
    async def _poll_for_a_while(self, http: httpx.AsyncClient, first_delay: float = 0.0) -> AsyncIterator[Notification]:
        """Poll the inbox (after ``first_delay``) until it is time to try the stream again."""
        if first_delay > 0:
            await asyncio.sleep(first_delay)
        until = time.monotonic() + self.options.stream_retry_after
        while True:
            self.stats.polls += 1
            async for item in self._inbox_pages(http, self.last_event_id, "poll"):
                yield item
            if time.monotonic() >= until:
                return
            await asyncio.sleep(self.options.poll_interval)

    async def _refetch_inbox(self, http: httpx.AsyncClient) -> AsyncIterator[Notification]:
        """After `reset`: the whole inbox again; ids already seen are not yielded twice."""
        async for item in self._inbox_pages(http, None, "inbox"):
            yield item

    async def _inbox_pages(self, http: httpx.AsyncClient, after: str | None, via: str) -> AsyncIterator[Notification]:
        limit = self.options.inbox_page
        while True:
            params = {"limit": str(limit)}
            if after:
                params["after"] = after
            try:
                response = await http.get(
                    f"{self.url}/v1/notifications",
                    params=params,
                    timeout=self.options.connect_timeout,
                    headers={"Authorization": f"Bearer {await self._current_token()}"},
                )
            except httpx.TransportError:
                await asyncio.sleep(self._backoff.next_delay())
                continue
            if response.status_code == 401:
                await self._refresh_token()
                continue
            if response.status_code != 200:
                await asyncio.sleep(self._backoff.next_delay(retry_after_seconds(response.headers.get("retry-after"))))
                continue
            self._backoff.succeeded()
            page = response.json()
            for item in page["notifications"]:
                notification = self._accept(item["id"], item["event"], item["data"], via, parsed=True)
                if notification is not None:
                    yield notification
            if len(page["notifications"]) < limit or page["next"] is None:
                return
            after = page["next"]

    # -- ids and tokens -----------------------------------------------------------------
    def _accept(self, event_id: str, event: str, data: object, via: str, parsed: bool = False) -> Notification | None:
        if event_id in self._seen_set:
            return None
        # Parse first: an event whose data does not parse (cut by a broken parser or
        # proxy) raises here, the stream reconnects from the previous id and reads it again.
        value = data if parsed else json.loads(data)  # type: ignore[arg-type]
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(event_id)
        self._seen_set.add(event_id)
        self.last_event_id = event_id
        return Notification(event_id, event, value, via)

    async def _current_token(self) -> str:
        if self._token is None:
            await self._refresh_token(counted=False)
        return self._token  # type: ignore[return-value]

    async def _refresh_token(self, counted: bool = True) -> None:
        if counted:
            self._auth_failures += 1
            if isinstance(self._provider, str) or self._auth_failures > self.options.max_auth_failures:
                raise AuthenticationFailed(f"{self.url} refused the token {self._auth_failures} time(s) in a row")
            self.stats.token_refreshes += 1
        token = self._provider() if callable(self._provider) else self._provider
        self._token = await token if inspect.isawaitable(token) else token

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
        else:
            async with httpx.AsyncClient() as http:
                yield http
