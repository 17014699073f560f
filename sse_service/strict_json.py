"""Strict JSON for what publishers send: only values every JSON reader reads back.

A publish body is decoded by msgspec, which refuses `NaN`/`Infinity`, numbers that
overflow a double, lone surrogates and invalid UTF-8, and keeps big integers exact.
Only when it refuses, the slow path finds *where*: the standard library decodes leniently
and the value is walked for what is not JSON; a body nested too deep for either decoder
is located by a bracket scan. Depth is checked on every value (`too_deep`): a value
nested deeper than a reader's recursion limit would break every later read of it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

Path = tuple[str | int, ...]

_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()
_SCAN_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)


@dataclass(frozen=True, slots=True)
class Poison:
    """Something in a decoded document that is not (portable) JSON, and where it is."""

    path: Path  # from the document root: ("notifications", 3, "data", "x", 0)
    message: str


class NotJson(ValueError):
    """The body is not JSON at all (the message says why)."""


class _NonFinite:
    """What the lenient decoder makes of `NaN`, `Infinity`, `-Infinity`."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def decode(body: bytes, max_depth: int) -> tuple[Any, list[Poison]]:
    """The document, and the poison in it (empty on the fast path).

    Raises NotJson when the body cannot be read as JSON at all. With poison, the
    document is only good for naming fields: refuse the request.
    """
    try:
        return _DECODER.decode(body), []
    except (msgspec.DecodeError, RecursionError) as exc:
        strict_error: Exception = exc
    try:
        document = json.loads(body, parse_constant=_NonFinite)
    except RecursionError:
        path = deepest_path(body, max_depth)
        if path is None:  # cannot happen: recursion needs depth
            raise NotJson("nested too deep") from None
        return None, [Poison(path, f"nested deeper than {max_depth} arrays/objects")]
    except (ValueError, UnicodeDecodeError):
        raise NotJson(_first_line(strict_error)) from None
    poison = list(find_poison(document))
    if not poison:
        raise NotJson(_first_line(strict_error))
    return document, poison


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON of a value `decode` accepted."""
    return _ENCODER.encode(value)


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether arrays/objects nest deeper than `max_depth` (a scalar has depth 0)."""
    if value.__class__ is not dict and value.__class__ is not list:
        return False
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in current.values() if current.__class__ is dict else current:
            if child.__class__ is dict or child.__class__ is list:
                stack.append((child, depth + 1))
    return False


def find_poison(document: Any) -> Iterator[Poison]:
    """Every non-finite number and every string (or key) holding a lone surrogate."""
    stack: list[tuple[Any, Path]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _NonFinite):
            yield Poison(path, f"{value.literal} is not JSON: numbers must be finite")
        elif isinstance(value, float) and not math.isfinite(value):
            yield Poison(path, "a number too large for a double is Infinity, which is not JSON")
        elif isinstance(value, str):
            if _has_surrogate(value):
                yield Poison(path, "a lone surrogate is not Unicode text")
        elif isinstance(value, dict):
            for key, child in reversed(value.items()):
                if _has_surrogate(key):
                    yield Poison(path, "a key with a lone surrogate is not Unicode text")
                stack.append((child, (*path, key)))
        elif isinstance(value, list):
            stack.extend((child, (*path, i)) for i, child in reversed(list(enumerate(value))))


def deepest_path(body: bytes, max_depth: int) -> Path | None:
    """The path of the first array/object nested deeper than `max_depth`, by a scan that
    never recurses (for bodies too deep for any recursive decoder)."""
    frames: list[list[Any]] = []  # per open container: [is_object, key or index]
    expecting_key = False
    for match in _SCAN_TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            frames.append([token == b"{", 0])
            expecting_key = token == b"{"
            if len(frames) > max_depth + _envelope_depth(frames):
                return tuple(frame[1] for frame in frames[:-1])
        elif token in (b"]", b"}"):
            if frames:
                frames.pop()
            expecting_key = False
        elif token == b",":
            if frames:
                if frames[-1][0]:
                    expecting_key = True
                else:
                    frames[-1][1] += 1
        elif token == b":":
            expecting_key = False
        elif expecting_key and frames:
            frames[-1][1] = _string(token)
    return None


def _envelope_depth(frames: list[list[Any]]) -> int:
    """Containers around a notification's field: `{…}` or `{"notifications": [{…}]}`."""
    return 3 if frames and frames[0][1] == "notifications" else 1


def _string(token: bytes) -> str:
    try:
        text: str = json.loads(token)
        return text
    except ValueError:
        return token.decode("utf-8", "replace")


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
