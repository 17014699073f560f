"""The identity provider's signing keys (JWKS), kept fresh without ever blocking the loop.

- Fetched with an async HTTP client with a short timeout; at most one fetch in flight.
- Refreshed every `JWKS_REFRESH_INTERVAL`: a key removed from the set stops verifying
  within that interval (and `generation` changes, so remembered tokens are dropped).
- A token naming an unknown `kid` is refused at once; it may start a refresh, but at most
  one per `UNKNOWN_KID_COOLDOWN` — anonymous requests with random kids cannot make us
  hammer the identity provider, nor wait on it.
- A failed fetch keeps the last known keys (an identity provider outage must not log
  everyone out); only a successful fetch removes keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from .signing_keys import UnknownSigningKey, unverified_kid

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 3.0
UNKNOWN_KID_COOLDOWN = 10.0
MAX_JWKS_BYTES = 1 << 20
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class JwksKeys:
    algorithms = ALGORITHMS

    def __init__(
        self, url: str, refresh_interval: float, *, cooldown: float = UNKNOWN_KID_COOLDOWN, timeout: float = FETCH_TIMEOUT
    ) -> None:
        self._url = url
        self._refresh_interval = refresh_interval
        self._cooldown = cooldown
        self._timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fingerprint = ""
        self.generation = 0
        self._last_attempt = float("-inf")
        self._in_flight: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.on_removed: Callable[[frozenset[str]], None] | None = None

    def key_for(self, token: str) -> tuple[Any, str | None]:
        kid = unverified_kid(token)
        key = self._keys.get(kid) if kid is not None else None
        if key is None:
            self._refresh_after_cooldown()
            raise UnknownSigningKey("invalid token: unknown signing key (kid)")
        return key, kid

    def trusts(self, key_id: str) -> bool:
        return key_id in self._keys

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_periodically(), name="jwks-refresher")

    async def stop(self) -> None:
        tasks = [t for t in (self._refresher, self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def refresh(self) -> None:
        """Fetch the key set now, or join the fetch already under way."""
        if self._in_flight is None or self._in_flight.done():
            self._last_attempt = time.monotonic()
            self._in_flight = asyncio.create_task(self._fetch(), name="jwks-fetch")
        await asyncio.shield(self._in_flight)

    def _refresh_after_cooldown(self) -> None:
        if self._client is None or time.monotonic() - self._last_attempt < self._cooldown:
            return
        if self._in_flight is None or self._in_flight.done():
            self._last_attempt = time.monotonic()
            self._in_flight = asyncio.get_running_loop().create_task(self._fetch(), name="jwks-fetch")

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            await self.refresh()

    async def _fetch(self) -> None:
        assert self._client is not None
        try:
            response = await self._client.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            keys, fingerprint = parse_jwks(response.content)
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            log.warning("JWKS refresh failed (%s: %s); keeping the %d known key(s)", type(exc).__name__, exc, len(self._keys))
            return
        if fingerprint != self._fingerprint:
            removed = frozenset(self._keys) - frozenset(keys)
            self._keys, self._fingerprint = keys, fingerprint
            self.generation += 1
            log.info("JWKS: %d signing key(s)%s", len(keys), f", removed {sorted(removed)}" if removed else "")
            if removed and self.on_removed is not None:
                self.on_removed(removed)


def parse_jwks(body: bytes) -> tuple[dict[str, Any], str]:
    """kid → verification key for the set's signing keys, and a fingerprint of the set."""
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('expected a JSON object with a "keys" list')
    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[sys.intern(entry["kid"])] = jwt.PyJWK(entry).key  # interned: every stream holds its kid
        except jwt.PyJWTError:
            continue  # a key type or curve we cannot use
    fingerprint = json.dumps(
        sorted((e for e in document["keys"] if isinstance(e, dict) and e.get("kid") in keys), key=lambda e: e["kid"]),
        sort_keys=True,
    )
    return keys, fingerprint
