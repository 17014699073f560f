"""A real JWKS endpoint on 127.0.0.1 whose key set and answer time the test controls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

SLOW_ANSWER_SECONDS = 4.0


@dataclass
class SigningKey:
    kid: str
    private: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(self, subject: str, audience: str = "notify", ttl: float = 3600, **claims: Any) -> str:
        payload = {"sub": subject, "aud": audience, "exp": int(time.time() + ttl), **claims}
        return jwt.encode(payload, self.private, algorithm="RS256", headers={"kid": self.kid})


class JwksServer:
    """Serves `/jwks.json`; `slow()` makes every answer wait (up to 4 s) until `answer()`."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.requests = 0
        self.waiting = threading.Semaphore(0)  # released once per request that is being held
        self.held = 0
        self._slow = False
        self._answer = threading.Event()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/jwks.json"

    def slow(self) -> None:
        self._answer.clear()
        self._slow = True

    def answer(self) -> None:
        self._slow = False
        self._answer.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                if server._slow:
                    with server._lock:
                        server.held += 1
                    server.waiting.release()
                    server._answer.wait(SLOW_ANSWER_SECONDS)
                    with server._lock:
                        server.held -= 1
                body = json.dumps({"keys": [k.jwk() for k in server.keys]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # flagstream gave up waiting (its fetch timeout)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.answer()
            self._http.shutdown()
            self._http.server_close()
            thread.join(5)
