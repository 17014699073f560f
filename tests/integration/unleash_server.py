"""A real unleash-server (npm, Node 20) on PostgreSQL, for the integration tests.

The package is installed once into ~/.cache/flagstream/unleash-server (outside the repo)
and reused; each session gets a fresh database and a free port. Fixtures:
``unleash_server`` (session) and ``unleash`` (per test: the same server, running).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.requirements import require_binary

UNLEASH_VERSION = "7.5.1"
INSTALL_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flagstream" / "unleash-server"
PG_DSN = "postgres://postgres@127.0.0.1:5432"
START_SCRIPT = """\
// Started by flagstream's tests: every setting comes from the environment.
const unleash = require('unleash-server');
unleash.start({}).catch((error) => { console.error(error); process.exit(1); });
"""
STARTUP_TIMEOUT = 120.0


def _install_unleash() -> Path:
    installed = INSTALL_DIR / "node_modules" / "unleash-server" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == UNLEASH_VERSION:
        return INSTALL_DIR
    npm = require_binary("npm", "npm")
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    (INSTALL_DIR / "package.json").write_text(json.dumps({"name": "flagstream-unleash-server", "private": True}))
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", f"unleash-server@{UNLEASH_VERSION}"],
        cwd=INSTALL_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(f"npm install unleash-server@{UNLEASH_VERSION} failed: {result.stderr.strip()[-2000:]}")
    return INSTALL_DIR


def _psql(sql: str) -> subprocess.CompletedProcess[str]:
    psql = require_binary("psql", "postgresql-client")
    return subprocess.run(
        [psql, f"{PG_DSN}/postgres", "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True, timeout=60
    )


def _ensure_postgres() -> None:
    if _psql("select 1").returncode == 0:
        return
    if shutil.which("pg_ctlcluster"):
        subprocess.run(["pg_ctlcluster", "15", "main", "start"], capture_output=True, text=True, timeout=60)
    deadline = time.monotonic() + 30
    while _psql("select 1").returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(
                "PostgreSQL on 127.0.0.1:5432 (user postgres, trust) does not answer: install the Debian package postgresql"
            )
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class UnleashServer:
    """One unleash-server process; ``stop``/``start`` simulate an outage on the same port and data."""

    port: int
    database: str
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def admin_token(self) -> str:
        return f"*:*.{self.secret}"

    @property
    def client_token(self) -> str:
        return f"default:development.{self.secret}"

    @property
    def production_client_token(self) -> str:
        return f"default:production.{self.secret}"

    def start(self) -> None:
        node = require_binary("node", "nodejs")
        (INSTALL_DIR / "start-for-tests.js").write_text(START_SCRIPT)
        env = {
            **os.environ,
            "DATABASE_URL": f"{PG_DSN}/{self.database}",
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "SEND_TELEMETRY": "false",
            "CHECK_VERSION": "false",
            "LOG_LEVEL": "warn",
            "INIT_ADMIN_API_TOKENS": self.admin_token,
            "INIT_BACKEND_API_TOKENS": f"{self.client_token},{self.production_client_token}",
        }
        self.log_path = INSTALL_DIR / f"unleash-{self.database}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [node, "start-for-tests.js"], cwd=INSTALL_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"unleash-server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"unleash-server not healthy within {STARTUP_TIMEOUT:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def served_flag(self, flag: str) -> dict | None:
        """``flag`` as Unleash's client API serves it right now (None: not served)."""
        response = httpx.get(f"{self.api_url}/client/features", headers={"Authorization": self.client_token}, timeout=5)
        response.raise_for_status()
        return next((f for f in response.json()["features"] if f["name"] == flag), None)

    def wait_served(self, flag: str, *, enabled: bool, rollout: int | None = None, timeout: float = 10.0) -> None:
        """Wait until the client API serves the admin change: Unleash publishes changes with a delay."""
        deadline = time.monotonic() + timeout
        while True:
            served = self.served_flag(flag)
            if (
                served is not None
                and served["enabled"] == enabled
                and (rollout is None or any(s["parameters"].get("rollout") == str(rollout) for s in served["strategies"]))
            ):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"Unleash did not serve {flag} enabled={enabled} rollout={rollout} within {timeout} s")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="session")
def unleash_server() -> Iterator[UnleashServer]:
    require_binary("node", "nodejs")
    _install_unleash()
    _ensure_postgres()
    database = f"flagstream_unleash_{uuid.uuid4().hex[:12]}"
    created = _psql(f"CREATE DATABASE {database}")
    if created.returncode != 0:
        pytest.fail(f"cannot create database {database}: {created.stderr.strip()}")
    server = UnleashServer(port=free_port(), database=database)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        if server.log_path is not None:
            server.log_path.unlink(missing_ok=True)


@pytest.fixture
def unleash(unleash_server: UnleashServer) -> UnleashServer:
    """The session's server, running (a test that stopped it does not leave it stopped)."""
    if not unleash_server.running:
        unleash_server.start()
    return unleash_server
