"""Server backend: UnleashClient polling a real Unleash server, bootstrapped, fail-safe, observed."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from typing import Any
from urllib.parse import urlsplit

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from UnleashClient import UnleashClient  # type: ignore[attr-defined,unused-ignore]
from UnleashClient.cache import FileCache
from UnleashClient.constants import FEATURES_URL
from UnleashClient.events import BaseEvent, UnleashEventType, UnleashFetchedEvent
from UnleashClient.utils import InstanceAllowType

from flags.evaluation import AnsweringFromDecisions, UserDecisions
from flags.flags_file import FlagsDocument, read_flags_file
from flags.health import RefreshHealth
from flags.listeners import ChangeListeners
from flags.types import FlagConfigError, FlagGateConfig, FlagHealth
from flags.unleash_logs import UnleashFailureFilter

LOGGER = logging.getLogger("flags")
_gate_numbers = itertools.count(1)


def unleash_api_url(url: str) -> str:
    """Accept ``http://host:4242`` or ``http://host:4242/api`` (what the SDKs document)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FlagConfigError(f"unleash_url must be an http(s) URL, got {url!r}")
    base = url.rstrip("/")
    return base if base.endswith("/api") else f"{base}/api"


def _features_of(raw_state: str) -> object:
    try:
        document = json.loads(raw_state)
    except json.JSONDecodeError:
        return None
    return (document.get("features"), document.get("segments")) if isinstance(document, dict) else None


class UnleashFlagGate(AnsweringFromDecisions):
    """FlagGate over a real Unleash server.

    The client is built in ``start`` (never at import), with a private cache directory and
    a bootstrap: the flags file when one is configured, else the state this cache directory
    kept from the last run. So the first request after start is answered from that state
    while the first fetch is still under way; with no state at all, ``failsafe`` answers.

    Example::

        gate = UnleashFlagGate(FlagGateConfig(unleash_url="http://localhost:4242/api",
                                              unleash_api_token="default:development.secret"))
        await gate.start()
        gate.is_enabled("alice")
        await gate.stop()
    """

    def __init__(self, config: FlagGateConfig) -> None:
        if not config.unleash_url:
            raise FlagConfigError("unleash_url is required for the Unleash backend")
        self.flag = config.rollout_flag
        self._config = config
        self._url = unleash_api_url(config.unleash_url)
        self._health = RefreshHealth(f"unleash:{self._url}")
        self._decisions = UserDecisions(config)
        self._listeners = ChangeListeners(before_listeners=self._reevaluate)
        self._thread_prefix = f"flagstream-unleash-{next(_gate_numbers)}"
        self._failures = UnleashFailureFilter(self._thread_prefix, self._health.failed)
        self._client: UnleashClient | None = None
        self._state_known = False
        self._last_features: object = None
        self._own_cache_dir: str | None = None
        self._init_thread: threading.Thread | None = None

    async def start(self) -> None:
        self._listeners.bind(asyncio.get_running_loop())
        bootstrap = read_flags_file(self._config.flags_file) if self._config.flags_file else None
        cache_dir = self._config.cache_directory
        if cache_dir is None:
            cache_dir = self._own_cache_dir = tempfile.mkdtemp(prefix="flagstream-unleash-")
        cache = FileCache(self._config.unleash_app_name, directory=cache_dir)
        self._bootstrap(cache, bootstrap)
        self._failures.attach()
        self._client = self._build_client(cache, cache_dir)
        self._reevaluate()
        # The first fetch (and registration) block for up to the request timeout when
        # Unleash is away; the bootstrap answers meanwhile.
        self._init_thread = threading.Thread(target=self._initialize, name=f"{self._thread_prefix}-init", daemon=True)
        self._init_thread.start()

    def _bootstrap(self, cache: FileCache, document: FlagsDocument | None) -> None:
        if document is not None:
            cache.bootstrap_from_dict({"version": 2, "features": list(document.features)})
        elif cache.get(FEATURES_URL):
            cache.bootstrapped = True  # what the last run fetched, kept in this cache directory
        if cache.bootstrapped:
            self._last_features = _features_of(cache.get(FEATURES_URL))
            self._state_known = True

    def _build_client(self, cache: FileCache, cache_dir: str) -> UnleashClient:
        executor = f"{self._thread_prefix}-poll"
        scheduler = BackgroundScheduler(
            executors={executor: ThreadPoolExecutor(max_workers=2, pool_kwargs={"thread_name_prefix": executor})}
        )
        interval = self._config.refresh_interval
        return UnleashClient(
            url=self._url,
            app_name=self._config.unleash_app_name,
            instance_id=self._config.instance_id or f"{socket.gethostname()}-{os.getpid()}",
            refresh_interval=interval,  # type: ignore[arg-type]  # seconds; a float works (tests poll sub-second)
            # A poll must end before the next one is due, or APScheduler skips and warns.
            request_timeout=max(1, int(interval)),
            request_retries=1,
            disable_metrics=True,
            custom_headers={"Authorization": self._config.unleash_api_token or ""},
            custom_options={"hooks": {"response": [self._on_response]}},
            cache_directory=cache_dir,
            cache=cache,
            scheduler=scheduler,
            scheduler_executor=executor,
            verbose_log_level=logging.DEBUG,
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
            event_callback=self._on_event,
        )

    def _initialize(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.initialize_client()
        except Exception as error:  # only a malformed URL gets here; polling handles the rest
            self._health.failed(f"cannot start the Unleash client: {error}")

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.destroy)  # waits for an initialization in flight
        if self._init_thread is not None:
            await asyncio.to_thread(self._init_thread.join)
        self._failures.detach()
        self._decisions.reset(None)
        if self._own_cache_dir is not None:
            shutil.rmtree(self._own_cache_dir, ignore_errors=True)
            self._own_cache_dir = None

    def health(self) -> FlagHealth:
        return self._health.snapshot(state_known=self._state_known)

    # Called on UnleashClient's threads.

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:  # requests response hook
        if not response.request.path_url.split("?")[0].endswith(FEATURES_URL):
            return response
        if response.status_code in (200, 304):
            self._health.succeeded()
        else:
            self._health.failed(f"Unleash answered HTTP {response.status_code} {response.reason or ''}".rstrip())
        return response

    def _on_event(self, event: BaseEvent) -> None:
        # FETCHED comes after the engine took the new state, so listeners see it.
        if event.event_type != UnleashEventType.FETCHED or not isinstance(event, UnleashFetchedEvent):
            return
        features = _features_of(event.raw_features)
        if features is None:
            return
        self._state_known = True
        if features != self._last_features:
            self._last_features = features
            self._listeners.notify_threadsafe()

    # Called on the loop.

    def _reevaluate(self) -> None:
        features = self._last_features[0] if isinstance(self._last_features, tuple) else None
        self._decisions.reset(self._client if self._state_known else None, features if isinstance(features, list) else ())
