"""The two strategies flagstream keeps on its rollout flag, shared by both admin backends.

- the rollout: ONE ``flexibleRollout`` without constraints, stickiness ``userId`` and a
  fixed ``groupId`` (the flag name), so a user's bucket never changes and everyone already
  in stays in as the percentage grows;
- the allowlist: a ``flexibleRollout`` at 100 % constrained to ``userId IN [...]``.

The rollout strategy is always present (at 0 % when nothing was set): an enabled Unleash
flag without strategies is on for everyone, which a phased rollout must never become.
"""

from __future__ import annotations

from typing import Any, cast

from flags.types import RolloutState

ROLLOUT_TITLE = "flagstream-rollout"
ALLOWLIST_TITLE = "flagstream-allowlist"
MAX_ALLOWLIST = 1000


def check_percent(percent: int) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValueError(f"rollout percentage must be a whole number 0..100, got {percent!r}")
    return percent


def check_user_ids(user_ids: list[str]) -> list[str]:
    if isinstance(user_ids, str):
        raise ValueError("allowlist must be a list of user ids, not one string")
    unique = list(dict.fromkeys(user_ids))
    if any(not isinstance(user, str) or not user.strip() for user in unique):
        raise ValueError("allowlist user ids must be non-empty strings")
    if len(unique) > MAX_ALLOWLIST:
        raise ValueError(f"allowlist holds at most {MAX_ALLOWLIST} user ids, got {len(unique)}")
    return unique


def rollout_strategy(flag: str, percent: int) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "title": ROLLOUT_TITLE,
        "parameters": {"rollout": str(percent), "stickiness": "userId", "groupId": flag},
        "constraints": [],
    }


def allowlist_strategy(flag: str, user_ids: list[str]) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "title": ALLOWLIST_TITLE,
        "parameters": {"rollout": "100", "stickiness": "userId", "groupId": flag},
        "constraints": [
            {"contextName": "userId", "operator": "IN", "values": list(user_ids), "inverted": False, "caseInsensitive": False}
        ],
    }


def is_rollout(strategy: dict[str, Any]) -> bool:
    return strategy.get("name") == "flexibleRollout" and not strategy.get("constraints") and not strategy.get("segments")


def allowlist_constraint(strategy: dict[str, Any]) -> dict[str, Any] | None:
    constraints: list[dict[str, Any]] = strategy.get("constraints") or []
    for constraint in constraints:
        if constraint.get("contextName") == "userId" and constraint.get("operator") == "IN" and not constraint.get("inverted"):
            return constraint
    return None


def is_allowlist(strategy: dict[str, Any]) -> bool:
    return allowlist_constraint(strategy) is not None


def rollout_percent(strategy: dict[str, Any]) -> int:
    try:
        return int((strategy.get("parameters") or {}).get("rollout", 0))
    except (TypeError, ValueError):
        return 0


def read_state(flag: str, enabled: bool, strategies: list[dict[str, Any]]) -> RolloutState:
    rollouts = [s for s in strategies if is_rollout(s)]
    allowlists = [s for s in strategies if is_allowlist(s)]
    return RolloutState(
        flag=flag,
        enabled=enabled,
        percentage=rollout_percent(rollouts[0]) if rollouts else 0,
        allowlist=tuple(cast(dict[str, Any], allowlist_constraint(allowlists[0]))["values"]) if allowlists else (),
    )
