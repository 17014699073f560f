"""The JS client's own test suites, driven from pytest so `make test` runs them.

`clients/js` holds vitest suites: unit tests (parser, backoff, reconnect policy, leader
election), the client core and the useSSE hook (React 19, jsdom) against a real
`flagstream serve`, and browser tests of the demo page in headless Debian chromium
through playwright-core. npm installs from `package-lock.json` into
`clients/js/node_modules` (ignored by git), with npm's download cache in ~/.npm.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import delete_prefix, new_prefix
from tests.support.requirements import missing, require_binary

JS_DIR = Path(__file__).resolve().parents[2] / "clients" / "js"
INSTALL_STAMP = JS_DIR / "node_modules" / ".flagstream-lock-sha256"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=JS_DIR, env=env, text=True, capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def npm_installed() -> None:
    """`npm ci`, once per lockfile: an unchanged lock reuses node_modules."""
    require_binary("node", "nodejs")
    npm = require_binary("npm", "npm")
    lock_hash = hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()
    if INSTALL_STAMP.is_file() and INSTALL_STAMP.read_text() == lock_hash:
        return
    done = _run([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], dict(os.environ), timeout=600)
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {JS_DIR}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    INSTALL_STAMP.write_text(lock_hash)


@pytest.fixture
def js_env(redis_url: str) -> Iterator[dict[str, str]]:
    """What the JS suites need: the flagstream binary of this venv and a Redis prefix."""
    prefix = new_prefix()
    env = dict(os.environ)
    env.update(
        FLAGSTREAM_BIN=str(Path(sys.executable).with_name("flagstream")),
        FLAGSTREAM_TEST_REDIS_URL=redis_url,
        FLAGSTREAM_TEST_REDIS_PREFIX=prefix,
        FORCE_COLOR="0",
        NO_COLOR="1",
    )
    yield env
    delete_prefix(redis_url, prefix)


def _vitest(env: dict[str, str], *args: str) -> None:
    done = _run(["npx", "--no-install", "vitest", "run", *args], env, timeout=840)
    if done.returncode != 0:
        pytest.fail(f"vitest {' '.join(args)} failed:\n{done.stdout[-12000:]}\n{done.stderr[-4000:]}")


def test_js_client_unit_and_real_server_suites_pass(npm_installed: None, js_env: dict[str, str]) -> None:
    _vitest(js_env)


def _chromium(js_env: dict[str, str]) -> dict[str, str]:
    chromium = require_binary("chromium", "chromium")
    if not os.access(chromium, os.X_OK):
        missing("chromium is not executable: reinstall the Debian package `chromium`")
    return {**js_env, "FLAGSTREAM_CHROMIUM": chromium}


@pytest.mark.browser
def test_demo_page_in_headless_chromium(npm_installed: None, js_env: dict[str, str]) -> None:
    _vitest(_chromium(js_env), "--config", "vitest.e2e.config.js", "e2e/browser.e2e.test.js")


@pytest.mark.browser
def test_a_page_on_another_origin_in_headless_chromium(npm_installed: None, js_env: dict[str, str]) -> None:
    """CORS and the stream cookie: the page on a Vite dev server, flagstream on another port."""
    _vitest(_chromium(js_env), "--config", "vitest.e2e.config.js", "e2e/cross-origin.e2e.test.js")


def test_npm_pack_ships_the_real_client_sources() -> None:
    """clients/js/src holds the files themselves (no symlink swapped around `npm pack`)."""
    import json

    npm = require_binary("npm", "npm")
    assert not (JS_DIR / "src").is_symlink()
    packed = _run([npm, "pack", "--dry-run", "--json", "--ignore-scripts"], dict(os.environ), timeout=120)
    assert packed.returncode == 0, packed.stderr[-2000:]
    shipped = {entry["path"] for entry in json.loads(packed.stdout)[0]["files"]}
    declared = json.loads((JS_DIR / "package.json").read_text())["files"]
    assert set(declared) <= shipped
