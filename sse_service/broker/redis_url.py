"""Redis addresses in messages and logs, with credentials masked."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"(rediss?://)[^@/\s]*@")


def masked(text: str) -> str:
    """`redis://:secret@host` → `redis://***@host` anywhere in `text`."""
    return _CREDENTIALS.sub(r"\1***@", text)
