"""The Unleash Admin API backend against a real unleash-server."""

import uuid

import httpx
import pytest

from flags import RolloutState, UnleashAdminError, UnleashFlagAdmin, build_flag_admin
from tests.integration.unleash_server import UnleashServer, unleash, unleash_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.unleash, pytest.mark.slow]


def new_flag() -> str:
    return f"sse-delivery-{uuid.uuid4().hex[:8]}"


def strategies(server: UnleashServer, flag: str) -> list[dict]:
    response = httpx.get(
        f"{server.api_url}/admin/projects/default/features/{flag}/environments/development/strategies",
        headers={"Authorization": server.admin_token},
    )
    response.raise_for_status()
    return response.json()


async def test_missing_flag_is_created_and_enabling_it_exposes_nobody(unleash: UnleashServer):
    flag = new_flag()
    admin = build_flag_admin(unleash_url=unleash.url, admin_token=unleash.admin_token, flag=flag)
    assert await admin.state() == RolloutState(flag, enabled=False, percentage=0, allowlist=())
    await admin.enable()
    # Unleash would add its own 100 % default strategy to an enabled flag without strategies.
    assert await admin.state() == RolloutState(flag, enabled=True, percentage=0, allowlist=())
    [only] = strategies(unleash, flag)
    assert only["name"] == "flexibleRollout"
    assert only["parameters"] == {"rollout": "0", "stickiness": "userId", "groupId": flag}


async def test_one_rollout_strategy_whose_percentage_moves(unleash: UnleashServer):
    flag = new_flag()
    admin = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag)
    await admin.set_rollout(25)
    first = strategies(unleash, flag)
    await admin.set_rollout(50)
    second = strategies(unleash, flag)
    assert len(first) == len(second) == 1
    assert first[0]["id"] == second[0]["id"]
    assert second[0]["parameters"] == {"rollout": "50", "stickiness": "userId", "groupId": flag}
    assert (await admin.state()).percentage == 50


async def test_allowlist_is_its_own_constraint_strategy(unleash: UnleashServer):
    flag = new_flag()
    admin = UnleashFlagAdmin(unleash.url, admin_token=unleash.admin_token, flag=flag)
    await admin.set_rollout(10)
    await admin.set_allowlist(["staff-1", "staff-2"])
    await admin.set_allowlist(["staff-3"])
    await admin.enable()
    assert await admin.state() == RolloutState(flag, True, 10, ("staff-3",))
    allowlists = [s for s in strategies(unleash, flag) if s["constraints"]]
    assert len(allowlists) == 1
    [constraint] = allowlists[0]["constraints"]
    assert (constraint["contextName"], constraint["operator"], constraint["values"]) == ("userId", "IN", ["staff-3"])
    await admin.set_allowlist([])
    assert await admin.state() == RolloutState(flag, True, 10, ())
    await admin.disable()
    assert (await admin.state()).enabled is False


async def test_a_refused_token_is_one_clear_error(unleash: UnleashServer):
    admin = UnleashFlagAdmin(unleash.url, admin_token="*:*.wrong", flag=new_flag())
    with pytest.raises(UnleashAdminError, match="HTTP 401") as error:
        await admin.set_rollout(5)
    assert "\n" not in str(error.value)
