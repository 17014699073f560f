"""Every JSON error of the API has one shape, built in one place (sse_service/errors.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from sse_service.errors import error_body

SERVICE = Path(__file__).resolve().parents[2] / "sse_service"


def test_the_error_body_keeps_code_detail_and_extras_in_that_order() -> None:
    assert error_body("draining") == {"error": "draining"}
    assert error_body("internal", None) == {"error": "internal", "detail": None}
    assert list(error_body("rate_limited", "slow down", retry_after=2)) == ["error", "detail", "retry_after"]


def test_no_module_writes_an_error_dict_by_hand() -> None:
    by_hand = []
    for path in SERVICE.rglob("*.py"):
        if path.name in ("errors.py", "openapi.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Dict)
                and node.keys
                and isinstance(node.keys[0], ast.Constant)
                and node.keys[0].value == "error"
            ):
                if len(node.keys) > 1 and isinstance(node.keys[1], ast.Constant) and node.keys[1].value == "error_since":
                    continue  # the rollout status document, not an API error
                by_hand.append(f"{path.relative_to(SERVICE)}:{node.lineno}")
    assert by_hand == []
