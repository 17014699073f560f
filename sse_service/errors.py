"""The one shape of every JSON error of the API (docs/api.md): ``{"error": code, "detail": …}``."""

from __future__ import annotations

import math
from typing import Any

_NO_DETAIL: Any = object()
STORE_UNAVAILABLE = "the notification store is unavailable; retry later"  # every 503 of a broker failure


def error_body(code: str, detail: Any = _NO_DETAIL, **extra: Any) -> dict[str, Any]:
    """``{"error": code}``, with ``detail`` when given (even None) and any ``extra`` fields after it.

    >>> error_body("rate_limited", "too many requests; retry after 2 s", retry_after=2)
    {'error': 'rate_limited', 'detail': 'too many requests; retry after 2 s', 'retry_after': 2}
    """
    body: dict[str, Any] = {"error": code}
    if detail is not _NO_DETAIL:
        body["detail"] = detail
    body.update(extra)
    return body


def retry_after(seconds: float) -> dict[str, str]:
    """The one `Retry-After` rule: whole seconds, rounded up, at least 1.

    A 503 passes `RETRY_MS` (the wait the stream's `retry:` field names), a rate limit's 429
    the time until its bucket has a token again.

    >>> retry_after(4.5), retry_after(0)
    ({'Retry-After': '5'}, {'Retry-After': '1'})
    """
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def unavailable(retry_ms: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The 503 of a broker failure: a generic body (the cause goes to the log only) and its wait."""
    return error_body("unavailable", STORE_UNAVAILABLE), retry_after(retry_ms / 1000)
