"""The one shape of every JSON error of the API (docs/api.md): ``{"error": code, "detail": …}``."""

from __future__ import annotations

from typing import Any

_NO_DETAIL: Any = object()


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
