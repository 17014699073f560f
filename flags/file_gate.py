"""Offline backend: the real UnleashClient evaluating a local flags file, re-read every refresh."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from UnleashClient import UnleashClient  # type: ignore[attr-defined,unused-ignore]
from UnleashClient.utils import InstanceAllowType

from flags.bootstrap_cache import BootstrapCache
from flags.evaluation import AnsweringFromDecisions, UserDecisions
from flags.flags_file import FlagsDocument, read_flags_file
from flags.health import RefreshHealth
from flags.listeners import ChangeListeners
from flags.types import FlagGateConfig, FlagHealth, FlagsFileError

OFFLINE_URL = "http://flags-file.invalid"  # never contacted: no polling, registration or metrics


def offline_client(document: FlagsDocument, config: FlagGateConfig) -> UnleashClient:
    """An UnleashClient that only evaluates ``document``: nothing is fetched, sent or written."""
    return UnleashClient(
        url=OFFLINE_URL,
        app_name=config.unleash_app_name,
        instance_id=config.instance_id or "flagstream",
        disable_metrics=True,
        disable_registration=True,
        cache=BootstrapCache(document.text),
        verbose_log_level=10,  # a missing tuning flag is normal, not a warning per connect
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )


class FileFlagGate(AnsweringFromDecisions):
    """FlagGate over an Unleash client-API JSON file (the embedded default).

    Each accepted version of the file gets a fresh client that replaces the previous one in
    a single assignment, so an evaluation never sees half of a change. A file that cannot
    be read or parsed is logged once per outage and the last good state is kept.

    Example::

        gate = FileFlagGate(FlagGateConfig(flags_file="flags.json", refresh_interval=1))
        await gate.start()
        gate.subscribe(lambda: print("flags changed"))
        gate.is_enabled("alice")
    """

    def __init__(self, config: FlagGateConfig, path: str | Path) -> None:
        self.flag = config.rollout_flag
        self._config = config
        self._path = Path(path)
        self._health = RefreshHealth(f"file:{self._path}")
        self._decisions = UserDecisions(config)
        self._listeners = ChangeListeners()
        self._document: FlagsDocument | None = None
        self._client: UnleashClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the file (raises FlagsFileError, one line, if it is unusable) and watch it."""
        self._listeners.bind(asyncio.get_running_loop())
        document = read_flags_file(self._path)
        self._install(document)
        self._health.succeeded()
        self._task = asyncio.create_task(self._watch(), name=f"flags-file-watch:{self._path}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Offline clients never start threads or touch disk; dropping them frees the engine
        # (their destroy() would only complain that the unused scheduler is not running).
        self._client = None
        self._decisions.reset(None)

    def health(self) -> FlagHealth:
        return self._health.snapshot(state_known=self._client is not None)

    async def refresh(self) -> bool:
        """Re-read the file now; True when it changed the flag state (listeners have run)."""
        try:
            document = await asyncio.to_thread(read_flags_file, self._path)
        except FlagsFileError as error:
            self._health.failed(str(error))
            return False
        self._health.succeeded()
        if self._document is not None and document.features == self._document.features:
            return False
        self._install(document)
        self._listeners.notify()
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._config.refresh_interval)
            await self.refresh()

    def _install(self, document: FlagsDocument) -> None:
        self._client = offline_client(document, self._config)
        self._document = document
        self._decisions.reset(self._client, document.features)
