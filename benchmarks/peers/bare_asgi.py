"""The floor: a framework-less ASGI SSE app on Hypercorn + uvloop, speaking the subset of
flagstream's API that `flagstream loadtest` drives (JWT streams, the batch publish API).

No history, no replay, no limits, no metrics: per-user queues that coalesce into one
write, a broadcast encoded once. What flagstream adds above this is ours to remove.
Run: python -m benchmarks.peers.bare_asgi PORT JWT_SECRET PUBLISH_TOKEN
"""

from __future__ import annotations

import asyncio
import itertools
import json

import jwt

from benchmarks.peers.contract import arguments, serve_on_hypercorn

HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


class Stream:
    __slots__ = ("queue", "waiter")

    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None

    def offer(self, block: bytes) -> None:
        self.queue.append(block)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class App:
    def __init__(self, secret: str, publish_token: str) -> None:
        self.secret = secret
        self.publish = f"Bearer {publish_token}"
        self.users: dict[str, set[Stream]] = {}
        self.counter = itertools.count(1)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = dict(scope["headers"])
        path, method = scope["path"], scope["method"]
        if path == "/v1/stream" and method == "GET":
            await self.stream(headers, receive, send)
        elif path == "/v1/notifications" and method == "POST":
            await self.publish_batch(headers, receive, send)
        else:
            await reply(send, 200 if path in ("/healthz", "/readyz") else 404, b"{}")

    async def stream(self, headers, receive, send) -> None:
        try:
            user = jwt.decode(headers.get(b"authorization", b"")[7:].decode(), self.secret, algorithms=["HS256"])["sub"]
        except Exception:
            await reply(send, 401, b"{}")
            return
        me = Stream()
        self.users.setdefault(user, set()).add(me)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": b"id: 0\nevent: connected\ndata: {}\n\n", "more_body": True})
        writer = asyncio.ensure_future(self.write(me, send))
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            writer.cancel()
            held = self.users.get(user)
            if held is not None:
                held.discard(me)
                if not held:
                    del self.users[user]

    async def write(self, me: Stream, send) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not me.queue:
                me.waiter = loop.create_future()
                await me.waiter
            blocks, me.queue = me.queue, []
            await send({"type": "http.response.body", "body": b"".join(blocks), "more_body": True})

    async def publish_batch(self, headers, receive, send) -> None:
        if headers.get(b"authorization", b"").decode() != self.publish:
            await reply(send, 401, b"{}")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        document = json.loads(body)
        ids = []
        for item in document.get("notifications", [document]):
            event_id = str(next(self.counter))
            ids.append(event_id)
            block = f"id: {event_id}\nevent: {item.get('event', 'notification')}\ndata: {json.dumps(item['data'])}\n\n".encode()
            if item.get("broadcast"):
                for held in self.users.values():
                    for stream in held:
                        stream.offer(block)
            else:
                for user in item.get("user_ids") or [item["user_id"]]:
                    for stream in self.users.get(user, ()):
                        stream.offer(block)
        await reply(send, 202, json.dumps({"ids": ids}).encode())


async def reply(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    port, secret, token = arguments()
    serve_on_hypercorn(App(secret, token), port)


if __name__ == "__main__":
    main()
