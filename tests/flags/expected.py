"""Who Unleash puts in a flexibleRollout, computed independently of the Unleash engine."""

from __future__ import annotations

import mmh3


def unleash_bucket(group_id: str, user_id: str) -> int:
    """Unleash's normalized hash: murmur3 (seed 0, unsigned) of ``groupId:userId``, 1..100."""
    return mmh3.hash(f"{group_id}:{user_id}", seed=0, signed=False) % 100 + 1


def expected_users(group_id: str, users: list[str], percent: int) -> set[str]:
    return {user for user in users if unleash_bucket(group_id, user) <= percent}
