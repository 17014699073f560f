"""GET /v1/stream, served as a plain ASGI endpoint.

It bypasses Quart's request stack on purpose: a stream needs only its headers and the
raw ASGI `send`, and holding ten thousand of them is cheaper without a request context
(and without Quart's response timeout, which would silently end them).
The life of one stream: `stream_admission.admit` (no socket there) → register → subscribe →
`connected` → replay → live writes until a `Closing`, then unregister in `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .asgi_responses import STREAM_HEADERS, Send, send_json
from .connection import ABORT_STUCK_WRITE_AFTER, Connection
from .delivery_ledger import DeliveryLedger
from .disconnect_watch import DisconnectWatch
from .errors import unavailable
from .reconnects import ReconnectCounter
from .sse import ServerSentEvent
from .stream_admission import RESET, Open, Refuse, admit
from .stream_encoding import encode, rfc3339, with_id
from .types import BrokerUnavailable, EventId

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)
REPLAY_PAGE = 500


class StreamEndpoint:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._reconnects = ReconnectCounter()
        self._ledger = DeliveryLedger(services.metrics, services.tracing)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        """The whole life of one stream in one coroutine.

        Its phases before the live writes (admission, replay…) are coroutines that end
        before the stream idles, and the live writes wait in this frame itself: an idle
        stream holds this coroutine and its `DisconnectWatch`, nothing more of ours
        (benchmarks/stream_memory.py --by-line)."""
        started: float | None  # until the response started (then None: not held for the stream's life)
        started = time.perf_counter()
        opened = await self._open(scope, send, started)
        if opened is None:
            return
        connection, after = opened.connection, opened.after
        del opened
        s = self._s
        s.hub.register(connection)
        watcher: DisconnectWatch | None = None
        reason = "client"
        status: int | None = None  # the response's, once it started
        subscribed = False  # only a subscribe that returned is ours to undo
        try:
            try:
                # A fresh stream starts "now": the store's position before subscribing. If
                # anything was stored while the subscription became live, it is replayed.
                start = await s.broker.position(connection.user_id) if after is None else None
                await s.broker.subscribe(connection.user_id)
                subscribed = True
            except BrokerUnavailable:
                s.metrics.error("subscribe")
                await send_json(send, 503, *unavailable(s.settings.retry_ms))
                status, reason = 503, "error"
                return
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
            status = 200
            s.metrics.stream_started(200, time.perf_counter() - started)
            started = None
            await send({"type": "http.response.body", "body": self._connected(connection, start), "more_body": True})
            watcher = DisconnectWatch(receive, connection)
            # Every write runs under the writer's own deadline (`connection.write_deadline`):
            # when the hub closes a stream whose write is stuck on a socket that does not
            # drain, the deadline comes forward and aborts that write, and the final event
            # goes behind the bytes already queued on the transport, so a client that reads
            # again learns why.
            try:
                async with asyncio.timeout(None) as deadline:
                    connection.write_deadline = deadline
                    await self._catch_up(connection, after, start, send)
                    del after, start  # not held for the stream's life
                    while True:  # the live writes, until the stream closes
                        waiter = connection.waiter()
                        if waiter is not None:
                            await waiter  # an idle stream waits here
                            continue
                        hold = connection.hold()
                        if hold > 0:
                            await asyncio.sleep(hold)
                        items = connection.take_now()
                        closing = connection.closing
                        if items:
                            batch = encode(connection, items)
                            if batch.chunks:
                                connection.sending = True
                                await send({"type": "http.response.body", "body": b"".join(batch.chunks), "more_body": True})
                                connection.sending = False
                            if batch.sent:
                                self._ledger.wrote(connection, batch.sent, time.time(), batch.carriers)
                            del items, batch
                        if closing is not None:
                            break
            except TimeoutError:
                if not deadline.expired():
                    raise
                log.debug("aborted a stuck write of a closed stream")
            finally:
                connection.write_deadline = None
                connection.sending = False
            await _write_final_event(connection, send)
        except OSError:
            reason = "client"
        except BrokerUnavailable:
            s.metrics.error("stream")  # the client resumes from its cursor when it reconnects
            reason = "error"
        except Exception:
            s.metrics.error("stream")
            log.exception("stream of a connection failed")
            reason = "error"
        finally:
            if started is not None:  # 503, or an error before the response started (Hypercorn answers 500)
                s.metrics.stream_started(status or 500, time.perf_counter() - started)
            if watcher is not None:
                watcher.cancel()
            s.hub.unregister(connection, reason)
            self._reconnects.stream_ended(connection.user_id)
            if subscribed:
                await s.broker.unsubscribe(connection.user_id)
            with contextlib.suppress(BrokerUnavailable):  # the lease expires by itself
                await s.broker.release_lease(connection.user_id, connection.id)

    async def _open(self, scope: dict[str, Any], send: Send, started: float) -> Open | None:
        """Admission: None when the stream was refused (and answered); else the stream to
        serve, its user's evicted streams gone and its reconnect counted."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        answer = await admit(self._s, headers, query)
        if isinstance(answer, Refuse):
            await send_json(send, answer.status, answer.body, answer.headers)
            self._s.metrics.stream_started(answer.status, time.perf_counter() - started)
            return None
        connection = answer.connection
        await self._evict(connection.user_id, answer.evicted)
        reconnect = self._reconnects.kind(connection.user_id, resumed=answer.after is not None)
        if reconnect is not None:
            self._s.metrics.reconnected(reconnect)
        return answer

    async def _evict(self, user_id: str, connection_ids: tuple[str, ...]) -> None:
        for connection_id in connection_ids:
            if any(c.id == connection_id for c in self._s.hub.user_connections(user_id)):
                self._s.hub.evict(user_id, connection_id)
                continue
            try:
                await self._s.broker.evict(user_id, connection_id)
            except BrokerUnavailable:  # its lease is already gone: it ends at its next renewal
                self._s.metrics.error("evict")

    async def _catch_up(self, connection: Connection, after: EventId | str | None, start: EventId | None, send: Send) -> None:
        """Before the live writes: replay from the client's `after` (or answer `reset`), or,
        for a fresh stream, replay whatever was stored while it subscribed."""
        if after is RESET:
            await self._reset(connection, send)
        elif isinstance(after, EventId):
            await self._replay(connection, after, send)
        elif start is not None:
            if await self._s.broker.position(connection.user_id) != start:
                await self._replay(connection, start, send)
            else:
                connection.cursor = start

    def _connected(self, connection: Connection, start: EventId | None) -> bytes:
        """`retry` + `connected`. A fresh stream's block carries `id: <start>`, so that
        any client (native EventSource too) resumes from here even before its first
        event; a resumed stream's block carries no id, keeping the client's own cursor."""
        data = {
            "connection_id": connection.id,
            "user_id": connection.user_id,
            "server_time": rfc3339(time.time()),
            "ping_interval": connection.ping_interval,
        }
        return ServerSentEvent(
            data=json.dumps(data),
            event="connected",
            retry=self._s.settings.retry_ms,
            id=str(start) if start is not None else None,
        ).encode()

    async def _replay(self, connection: Connection, after: EventId, send: Send) -> None:
        """Everything after `after`, oldest first; live events queued meanwhile are
        deduplicated by the writer through `connection.cursor`."""
        s = self._s
        cursor: EventId | None = after
        while cursor is not None:
            page = await s.broker.history(connection.user_id, cursor, REPLAY_PAGE)
            if page.reset:
                connection.cursor = page.position
                await send({"type": "http.response.body", "body": RESET_EVENT, "more_body": True})
                return
            connection.cursor = cursor
            if not page.events:
                break
            connection.sending = True  # a replay write blocked on the socket is "behind" too
            await send(
                {
                    "type": "http.response.body",
                    "more_body": True,
                    "body": b"".join(with_id(event_id, event) for event, event_id in zip(page.events, page.ids)),
                }
            )
            connection.sending = False
            connection.cursor = page.ids[-1]
            s.metrics.events_replayed(len(page.events))
            cursor = page.ids[-1] if len(page.events) == REPLAY_PAGE else None

    async def _reset(self, connection: Connection, send: Send) -> None:
        connection.cursor = await self._s.broker.position(connection.user_id)
        await send({"type": "http.response.body", "body": RESET_EVENT, "more_body": True})


RESET_EVENT = ServerSentEvent(data="{}", event="reset").encode()


async def _write_final_event(connection: Connection, send: Send) -> None:
    """End the response with the closing's last event, waiting a bounded time for a
    socket that does not drain (the bytes stay queued: a client that reads again gets them)."""
    closing = connection.closing
    if closing is None or not closing.final_event:
        return
    try:
        async with asyncio.timeout(ABORT_STUCK_WRITE_AFTER):
            await send({"type": "http.response.body", "body": closing.final_event, "more_body": False})
    except TimeoutError:
        log.debug("final %s event of a stalled stream left queued on its socket", closing.reason)
