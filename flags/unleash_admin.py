"""FlagAdmin over the Unleash Admin API (httpx)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from flags.strategies import (
    allowlist_strategy,
    check_percent,
    check_user_ids,
    is_allowlist,
    is_rollout,
    read_state,
    rollout_strategy,
)
from flags.types import FlagConfigError, RolloutState, UnleashAdminError
from flags.unleash_gate import unleash_api_url


class UnleashFlagAdmin:
    """Changes one flag in one project and environment of an Unleash server.

    The flag is created (type ``release``) when missing. Its strategies are kept to the two
    flagstream owns (see ``flags.strategies``); other strategies are left alone.

    Example::

        admin = UnleashFlagAdmin("http://localhost:4242", admin_token="*:*.secret")
        await admin.set_rollout(25)
        await admin.enable()
    """

    def __init__(
        self,
        unleash_url: str,
        *,
        admin_token: str | None,
        project: str = "default",
        environment: str = "development",
        flag: str = "sse-delivery",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not admin_token:
            raise FlagConfigError("an Unleash admin API token is required to change flags")
        self._flag = flag
        self._feature_path = f"/admin/projects/{project}/features/{flag}"
        self._strategies_path = f"{self._feature_path}/environments/{environment}/strategies"
        self._project_path = f"/admin/projects/{project}/features"
        self._environment = environment
        self._base_url = unleash_api_url(unleash_url)
        self._headers = {"Authorization": admin_token, "Accept": "application/json"}
        self._timeout = timeout
        self._transport = transport

    async def set_rollout(self, percent: int) -> None:
        percent = check_percent(percent)
        async with self._client() as client:
            strategies = await self._strategies(client)
            await self._replace(client, strategies, is_rollout, rollout_strategy(self._flag, percent))

    async def set_allowlist(self, user_ids: list[str]) -> None:
        users = check_user_ids(user_ids)
        async with self._client() as client:
            strategies = await self._ensure_rollout(client, await self._strategies(client))
            wanted = allowlist_strategy(self._flag, users) if users else None
            await self._replace(client, strategies, is_allowlist, wanted)

    async def enable(self) -> None:
        async with self._client() as client:
            # Enabling an environment without strategies makes Unleash add its default
            # 100 % strategy; the 0 % rollout strategy goes in first.
            await self._ensure_rollout(client, await self._strategies(client))
            await self._call(client, "POST", f"{self._feature_path}/environments/{self._environment}/on")

    async def disable(self) -> None:
        async with self._client() as client:
            await self._ensure_feature(client)
            await self._call(client, "POST", f"{self._feature_path}/environments/{self._environment}/off")

    async def state(self) -> RolloutState:
        async with self._client() as client:
            response = await self._call(client, "GET", self._feature_path, allow_missing=True)
            if response is None:
                return RolloutState(flag=self._flag, enabled=False, percentage=0, allowlist=())
            environment = self._environment_of(response.json())
            return read_state(self._flag, bool(environment.get("enabled")), environment.get("strategies") or [])

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._base_url, headers=self._headers, timeout=self._timeout, transport=self._transport)

    async def _answer(
        self, client: httpx.AsyncClient, method: str, path: str, *, json: dict[str, Any] | None = None
    ) -> httpx.Response:
        """`_call` where a missing resource is an error too (only `allow_missing` answers None)."""
        response = await self._call(client, method, path, json=json)
        assert response is not None
        return response

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        allow_missing: bool = False,
    ) -> httpx.Response | None:
        try:
            response = await client.request(method, path, json=json)
        except httpx.HTTPError as error:
            raise UnleashAdminError(f"Unleash at {self._base_url} unreachable: {error or type(error).__name__}") from None
        if allow_missing and response.status_code == 404:
            return None
        if response.is_error:
            detail = response.text.strip().replace("\n", " ")[:300]
            raise UnleashAdminError(f"Unleash refused {method} {path}: HTTP {response.status_code} {detail}")
        return response

    async def _ensure_feature(self, client: httpx.AsyncClient) -> dict[str, Any]:
        response = await self._call(client, "GET", self._feature_path, allow_missing=True)
        if response is not None:
            return _json_object(response)
        await self._call(
            client,
            "POST",
            self._project_path,
            json={
                "name": self._flag,
                "type": "release",
                "impressionData": False,
                "description": "flagstream: deliver notifications over SSE (phased rollout)",
            },
        )
        return _json_object(await self._answer(client, "GET", self._feature_path))

    def _environment_of(self, feature: dict[str, Any]) -> dict[str, Any]:
        environments: list[dict[str, Any]] = feature.get("environments") or []
        for environment in environments:
            if environment.get("name") == self._environment:
                return environment
        raise UnleashAdminError(f"flag {self._flag} has no environment {self._environment!r} in Unleash")

    async def _strategies(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        await self._ensure_feature(client)
        strategies: list[dict[str, Any]] = (await self._answer(client, "GET", self._strategies_path)).json()
        return strategies

    async def _ensure_rollout(self, client: httpx.AsyncClient, strategies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(is_rollout(strategy) for strategy in strategies):
            return strategies
        created = await self._answer(client, "POST", self._strategies_path, json=rollout_strategy(self._flag, 0))
        return [*strategies, created.json()]

    async def _replace(
        self,
        client: httpx.AsyncClient,
        strategies: list[dict[str, Any]],
        matches: Callable[[dict[str, Any]], bool],
        wanted: dict[str, Any] | None,
    ) -> None:
        """Leave exactly one strategy that ``matches`` (``wanted``), or none when wanted is None."""
        existing = [strategy for strategy in strategies if matches(strategy)]
        if wanted is not None:
            if existing:
                await self._call(client, "PUT", f"{self._strategies_path}/{existing[0]['id']}", json=wanted)
                existing = existing[1:]
            else:
                await self._call(client, "POST", self._strategies_path, json=wanted)
        for extra in existing:
            await self._call(client, "DELETE", f"{self._strategies_path}/{extra['id']}")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    document: dict[str, Any] = response.json()
    return document
