"""Where the controller keeps its state, audit log, check records and locks.

A JSON file (the embedded default) or Redis (when a redis:// URL is given). Two locks:
``state`` is held for the few milliseconds of a read-change-write, so a CLI command and
a running controller never overwrite each other; ``controller`` is held by `rollout watch`
for its lifetime, so two controllers never act at once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import filelock
import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from .masking import mask_url
from .records import (
    check_from_json,
    check_to_json,
    parse_lines,
    state_from_json,
    state_to_json,
    transition_from_json,
    transition_to_json,
)
from .types import CheckResult, ControllerState, LockHeld, RolloutError, Transition

MAX_RECORDED_CHECKS = 100_000  # Redis list cap: about ten weeks of one check a minute


class Lease(Protocol):
    async def acquire(self, wait: float) -> None: ...
    async def renew(self) -> None: ...
    async def release(self) -> None: ...


class StateStore(Protocol):
    where: str

    async def load(self) -> ControllerState | None: ...
    async def save(self, state: ControllerState) -> None: ...
    async def append_transition(self, transition: Transition) -> None: ...
    async def transitions(self) -> list[Transition]: ...
    async def append_check(self, check: CheckResult) -> None: ...
    async def checks(self) -> list[CheckResult]: ...
    def lease(self, name: str, expiry: float) -> Lease: ...
    async def close(self) -> None: ...


@asynccontextmanager
async def held(store: StateStore, name: str = "state", wait: float = 10.0, expiry: float = 30.0) -> AsyncIterator[None]:
    lease = store.lease(name, expiry)
    await lease.acquire(wait)
    try:
        yield
    finally:
        await lease.release()


def open_store(target: str, flag: str) -> StateStore:
    """A redis:// / rediss:// / unix:// URL → Redis; anything else is a file path."""
    if is_redis_url(target):
        return RedisStateStore(target, flag)
    return FileStateStore(Path(target))


def _held_message(name: str, where: str) -> str:
    if name == "state":
        return f"another rollout command is changing the state ({where}); try again"
    return f"another rollout controller holds {where}"


class _FileLease:
    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        # The OS drops the lock when the process dies, so a file lock needs no expiry.
        self._lock = filelock.AsyncFileLock(str(path), thread_local=False)

    async def acquire(self, wait: float) -> None:
        try:
            await self._lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise LockHeld(_held_message(self.name, str(self.path))) from None

    async def renew(self) -> None:
        if not self._lock.is_locked:
            raise LockHeld(f"lost the lock {self.path}")

    async def release(self) -> None:
        await self._lock.release()


class FileStateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._audit = path.with_suffix(".audit.jsonl")
        self._checks = path.with_suffix(".checks.jsonl")

    def _ensure_directory(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RolloutError(f"{self.path.parent}: cannot create state directory: {exc.strerror}") from None

    async def load(self) -> ControllerState | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RolloutError(f"{self.path}: cannot read rollout state: {exc.strerror}") from None
        return state_from_json(text, self.where)

    async def save(self, state: ControllerState) -> None:
        self._ensure_directory()
        # Write then rename, so a crash leaves the old state or the new one, never half of one.
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(state_to_json(state))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            Path(temp).unlink(missing_ok=True)
            raise RolloutError(f"{self.path}: cannot write rollout state: {exc.strerror}") from None

    def _append(self, path: Path, line: str) -> None:
        self._ensure_directory()
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise RolloutError(f"{path}: cannot append: {exc.strerror}") from None

    def _read(self, path: Path) -> list[dict[str, Any]]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RolloutError(f"{path}: cannot read: {exc.strerror}") from None
        return parse_lines(lines, str(path))

    async def append_transition(self, transition: Transition) -> None:
        self._append(self._audit, transition_to_json(transition))

    async def transitions(self) -> list[Transition]:
        return [transition_from_json(record) for record in self._read(self._audit)]

    async def append_check(self, check: CheckResult) -> None:
        self._append(self._checks, check_to_json(check))

    async def checks(self) -> list[CheckResult]:
        return [check_from_json(record) for record in self._read(self._checks)]

    def lease(self, name: str, expiry: float) -> Lease:
        self._ensure_directory()
        return _FileLease(self.path.with_suffix(f".{name}.lock"), name)

    async def close(self) -> None:
        pass


class _RedisLease:
    def __init__(self, client: aioredis.Redis, key: str, name: str, expiry: float) -> None:
        self.key = key
        self.name = name
        # The expiry frees the lock of a controller that died without releasing it.
        self._lock = client.lock(key, timeout=expiry, thread_local=False)

    async def acquire(self, wait: float) -> None:
        try:
            acquired = await self._lock.acquire(blocking=wait > 0, blocking_timeout=wait if wait > 0 else None)
        except RedisError as exc:
            raise RolloutError(f"redis: cannot take the lock {self.key}: {exc}") from None
        if not acquired:
            raise LockHeld(_held_message(self.name, f"the Redis lock {self.key}"))

    async def renew(self) -> None:
        try:
            await self._lock.reacquire()
        except LockError:
            raise LockHeld(f"lost the Redis lock {self.key} (it expired and another controller took it)") from None

    async def release(self) -> None:
        try:
            await self._lock.release()
        except LockError:
            pass  # it expired; whoever holds it now keeps it


def redis_prefix(flag: str) -> str:
    return f"flagstream:rollout:{flag}:"


def is_redis_url(target: str) -> bool:
    return target.startswith(("redis://", "rediss://", "unix://"))


class RedisStateStore:
    def __init__(self, url: str, flag: str) -> None:
        self.where = mask_url(url)  # named in messages and logs: never with its password
        self._client = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = redis_prefix(flag)

    async def _call(self, what: str, awaitable):  # type: ignore[no-untyped-def]
        try:
            return await awaitable
        except RedisError as exc:
            raise RolloutError(f"redis {self.where}: cannot {what}: {exc}") from None

    async def load(self) -> ControllerState | None:
        text = await self._call("read rollout state", self._client.get(self._prefix + "state"))
        return None if text is None else state_from_json(text, self.where)

    async def save(self, state: ControllerState) -> None:
        await self._call("write rollout state", self._client.set(self._prefix + "state", state_to_json(state)))

    async def append_transition(self, transition: Transition) -> None:
        await self._call("append to the audit log", self._client.rpush(self._prefix + "audit", transition_to_json(transition)))

    async def transitions(self) -> list[Transition]:
        lines = await self._call("read the audit log", self._client.lrange(self._prefix + "audit", 0, -1))
        return [transition_from_json(record) for record in parse_lines(lines, self.where)]

    async def append_check(self, check: CheckResult) -> None:
        key = self._prefix + "checks"
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, check_to_json(check))
            pipe.ltrim(key, -MAX_RECORDED_CHECKS, -1)
            await self._call("record a check", pipe.execute())

    async def checks(self) -> list[CheckResult]:
        lines = await self._call("read check records", self._client.lrange(self._prefix + "checks", 0, -1))
        return [check_from_json(record) for record in parse_lines(lines, self.where)]

    def lease(self, name: str, expiry: float) -> Lease:
        return _RedisLease(self._client, self._prefix + "lock:" + name, name, expiry)

    async def close(self) -> None:
        await self._client.aclose()
