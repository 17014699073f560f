"""A stand-in Unleash client API on 127.0.0.1 whose answers a test sets (outages included).

The integration suite runs the real unleash-server; this one lets unit tests make the
server fail in ways a real one will not on demand (HTTP 503, refused connections).
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeUnleash:
    def __init__(self) -> None:
        self.features: list[dict] = []
        self.status = 200
        self.feature_requests = 0
        self.authorization: str | None = None
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                if not self.path.startswith("/api/client/features"):
                    self.send_error(404)
                    return
                with fake._lock:
                    fake.feature_requests += 1
                    fake.authorization = self.headers.get("Authorization")
                    status, features = fake.status, list(fake.features)
                if status != 200:
                    self.send_error(status)
                    return
                body = json.dumps({"version": 2, "features": features}).encode()
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-unleash", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_seen(self) -> int:
        with self._lock:
            return self.feature_requests

    def __enter__(self) -> FakeUnleash:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
