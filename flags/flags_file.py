"""The flags file: an Unleash client-API JSON document (`GET /api/client/features`), read and written safely."""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yggdrasil_engine.engine import UnleashEngine

from flags.types import FlagsFileError

DEFAULT_FLAGS_FILE = Path(__file__).parent / "defaults" / "flags.json"


@dataclass(frozen=True)
class FlagsDocument:
    text: str  # exactly what was read, handed to the Unleash engine
    features: tuple[dict[str, Any], ...]  # parsed, for comparison and for the admin backend


def _check_structure(path: Path, document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise FlagsFileError(f'flags file {path}: expected a JSON object with a "features" list')
    for index, feature in enumerate(document["features"]):
        where = f"flags file {path}: features[{index}]"
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise FlagsFileError(f'{where}: expected an object with a string "name"')
        if not isinstance(feature.get("enabled"), bool):
            raise FlagsFileError(f'{where} ({feature["name"]}): "enabled" must be true or false')
        if not isinstance(feature.get("strategies"), list):
            raise FlagsFileError(f'{where} ({feature["name"]}): "strategies" must be a list')
    features: list[dict[str, Any]] = document["features"]
    return features


def parse_flags_text(path: Path, text: str) -> FlagsDocument:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FlagsFileError(f"flags file {path}: invalid JSON: {error}") from None
    except RecursionError:
        raise FlagsFileError(f"flags file {path}: invalid JSON: nested too deep") from None
    features = _check_structure(path, document)
    # The engine is the judge of what Unleash would accept; a file it only half
    # understands must not replace a good one.
    try:
        warnings = UnleashEngine().take_state(text)
    except Exception as error:  # the engine raises whatever its parser raised
        raise FlagsFileError(f"flags file {path}: rejected by the Unleash engine: {error}") from None
    if warnings:
        first = str(warnings).splitlines()[0]
        raise FlagsFileError(f"flags file {path}: rejected by the Unleash engine: {first}")
    return FlagsDocument(text=text, features=tuple(features))


def read_flags_file(path: str | os.PathLike[str]) -> FlagsDocument:
    """Read and validate a flags file; raises FlagsFileError with one line on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise FlagsFileError(f"flags file {path}: cannot read: {reason}") from None
    return parse_flags_text(path, text)


def write_flags_file(path: str | os.PathLike[str], features: list[dict[str, Any]]) -> None:
    """Replace the file atomically: readers see the old or the new document, never half of one."""
    path = Path(path)
    text = json.dumps({"version": 2, "features": features}, indent=2) + "\n"
    parse_flags_text(path, text)  # never write what we could not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = _create_replacement(path)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _create_replacement(path: Path) -> tuple[int, str]:
    """A new temp file next to ``path`` (O_EXCL: never a left-over one) with the mode and
    owner of the file it will replace, so a service running as another user still reads
    it; for a new flags file, the mode any new file gets under the umask."""
    try:
        original: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        original = None
    while True:
        name = str(path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if original else 0o666)
            break
        except FileExistsError:
            continue
    if original is not None:
        if (original.st_uid, original.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.fchown(descriptor, original.st_uid, original.st_gid)
            except PermissionError:
                pass  # only root gives a file away; the kept mode still lets the group read it
        os.fchmod(descriptor, stat.S_IMODE(original.st_mode))
    return descriptor, name
