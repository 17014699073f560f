"""A real `flagstream serve` process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx

from sse_service.auth import mint_token

from .redis_server import free_port

SECRET = "e2e-secret-0123456789abcdef0123456789"
# How every end-to-end test starts the service; the Dockerfile's ENTRYPOINT runs the same
# (tests/deploy/test_container_image.py).
SERVE_ARGS = ("-m", "sse_service.cli", "serve")


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    jwt_secret: str = SECRET
    publish_token: str = "e2e-publish-token"
    admin_token: str = "e2e-admin-token"
    log_path: str = ""
    _stopped: bool = field(default=False, repr=False)

    def user_token(self, user_id: str, ttl: float = 3600) -> str:
        return mint_token(self.jwt_secret, user_id, ttl=ttl)

    def publish(self, body: dict) -> list[str]:
        r = httpx.post(
            f"{self.url}/v1/notifications", json=body, timeout=10, headers={"Authorization": f"Bearer {self.publish_token}"}
        )
        assert r.status_code == 202, r.text
        return r.json()["ids"]

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(env: dict[str, str] | None = None, wait_ready: bool = True) -> RunningServer:
    """Start `flagstream serve` with FLAGSTREAM_* settings from `env` (test defaults otherwise)."""
    port = int((env or {}).get("FLAGSTREAM_PORT") or free_port())
    state_dir = tempfile.mkdtemp(prefix="flagstream-state-")
    full_env = {
        **os.environ,
        "FLAGSTREAM_PORT": str(port),
        "FLAGSTREAM_JWT_SECRET": SECRET,
        "FLAGSTREAM_PUBLISH_TOKEN": "e2e-publish-token",
        "FLAGSTREAM_ADMIN_TOKEN": "e2e-admin-token",
        "FLAGSTREAM_STATE_DIR": state_dir,
        "FLAGSTREAM_SHUTDOWN_GRACE": "5",
        **(env or {}),
    }
    log_path = os.path.join(state_dir, "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, *SERVE_ARGS], env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(
        f"http://127.0.0.1:{port}",
        process,
        full_env,
        log_path=log_path,
        jwt_secret=full_env["FLAGSTREAM_JWT_SECRET"],
        publish_token=full_env["FLAGSTREAM_PUBLISH_TOKEN"],
        admin_token=full_env["FLAGSTREAM_ADMIN_TOKEN"],
    )
    deadline = time.monotonic() + 30
    path = "/readyz" if wait_ready else "/healthz"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"flagstream serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + path, timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"flagstream serve did not become ready:\n{server.log()}")
        time.sleep(0.05)
