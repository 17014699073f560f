"""Redis key names: collision-free for any user id, one hash tag (one cluster slot) per user.

A user's keys share the tag ``u:<blake2b-128 of the user id>``: no user id (with ':',
'{', '}' or anything else) can name another user's key, and a script that touches one
user's history, meta, leases and idempotency records touches one slot. The broadcast
stream has the tag ``b``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..types import Notification


def _digest(text: str) -> str:
    # surrogatepass: any Python str hashes (a lone surrogate from a JWT `sub` included)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class StreamKeys:
    """The keys of one history stream (a user's, or the broadcast one) under prefix P."""

    tag: str

    def history(self, p: str) -> str:
        return f"{p}{{{self.tag}}}:h"

    def meta(self, p: str) -> str:
        return f"{p}{{{self.tag}}}:m"

    def leases(self, p: str) -> str:
        return f"{p}{{{self.tag}}}:l"

    def channel(self, p: str) -> str:
        return f"{p}{{{self.tag}}}:c"

    def collapse(self, p: str) -> str:
        """Hash: collapse key → the offset of the newest entry with that key."""
        return f"{p}{{{self.tag}}}:k"

    def idempotency(self, p: str, digest: str) -> str:
        return f"{p}{{{self.tag}}}:i:{digest}"


BROADCAST = StreamKeys("b")


def user_keys(user_id: str) -> StreamKeys:
    return StreamKeys("u:" + _digest(user_id))


def stream_keys(user_id: str | None) -> StreamKeys:
    return BROADCAST if user_id is None else user_keys(user_id)


def idempotency_digest(publisher: str, key: str) -> str:
    """An unambiguous encoding of (publisher identity, idempotency key), hashed."""
    return _digest(json.dumps([publisher, key]))


def fingerprint(n: Notification) -> str:
    """What makes a request the same request when its idempotency key is reused."""
    parts: list[object] = [list(n.user_ids), n.event, n.data_json]
    if n.collapse_key is not None:
        parts.append(n.collapse_key)
    return _digest(json.dumps(parts))[:24]


def check_user_ids(notifications: list[Notification] | tuple[Notification, ...]) -> None:
    """Refuse ids that Redis cannot carry (a lone surrogate is not UTF-8)."""
    from ..types import UnusableUserId

    for n in notifications:
        for user_id in n.user_ids:
            try:
                user_id.encode("utf-8")
            except UnicodeEncodeError:
                raise UnusableUserId("a user id is not valid UTF-8 (lone surrogate)") from None
