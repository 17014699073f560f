"""Settings: defaults that run the embedded mode, then a TOML file, env, and CLI flags."""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ENV_PREFIX = "FLAGSTREAM_"


class ConfigError(Exception):
    """A setting is invalid; the message names it, in one line."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    jwt_secret: str = ""  # empty: a development secret from STATE_DIR
    jwt_public_key: str = ""  # PEM text or a path (RS256/ES256)
    jwks_url: str = ""
    jwks_refresh_interval: float = 300.0  # a key removed from the JWKS stops verifying within this
    jwt_audience: str = ""
    jwt_issuer: str = ""
    publish_token: str = ""  # empty: a development token from STATE_DIR
    admin_token: str = ""
    metrics_token: str = ""  # empty: /metrics is open
    broker: str = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "flagstream:"
    redis_cluster_wait_replicas: int = 1  # BROKER=redis-cluster: a publish is acknowledged once this many replicas have it
    redis_cluster_wait_timeout_ms: int = 500
    workers: int = 1
    max_connections: int = 20000
    max_connections_per_user: int = 5
    user_limit_policy: str = "reject"
    ping_interval: float = 30.0
    queue_size: int = 512  # events queued while a write is blocked on the socket
    queue_max_bytes: int = 16 * 1024 * 1024  # payload bytes one stream may have queued
    queue_max_delay: float = 30.0  # seconds a stream's queue/write may make no progress
    batch_window_ms: int = 0
    collapse_window_ms: int = 0  # a collapse-keyed event waits up to this long for a newer one with its key
    history_size: int = 1000
    history_ttl: float = 86400.0
    max_payload_bytes: int = 65536
    max_batch: int = 1000
    max_data_depth: int = 64  # arrays/objects nested in a notification's `data`
    publish_rate: float = 500.0  # publish requests per second per publisher (0: no limit)
    publish_burst: int = 5000
    stream_rate: float = 2.0  # stream attempts per second per user (0: no limit)
    stream_burst: int = 60
    max_recipients_per_request: int = 1000  # events one publish request may create (recipients + broadcasts)
    retry_ms: int = 3000
    flags_file: str = ""  # empty: the shipped default (sse-delivery on)
    unleash_url: str = ""
    unleash_api_token: str = ""
    unleash_app_name: str = "flagstream"
    rollout_flag: str = "sse-delivery"
    flags_refresh_interval: float = 5.0
    flags_failsafe: str = "off"
    rollout_plan: str = "rollout.toml"  # read by /v1/admin/stats and `flagstream rollout`
    rollout_state: str = ".flagstream/rollout-state.json"  # a file, or a redis:// URL
    rollout_controller: bool = False  # run the rollout controller inside this service
    rollout_webhook: str = ""
    rollout_status_interval: float = 2.0  # how often every instance re-reads the rollout state for the dashboard
    unleash_admin_token: str = ""  # the rollout controller changes flags through it
    unleash_project: str = "default"  # where the rollout controller (and `flagstream rollout`) writes
    unleash_environment: str = "development"
    disable_spread: float = 0.0  # seconds over which `disabled` is spread when a flag goes off
    prometheus_url: str = ""  # gates query Prometheus instead of scraping /metrics
    shutdown_grace: float = 10.0
    ready_timeout: float = 0.5  # /readyz answers within this, whatever the broker does
    dead_peer_timeout: float = 60.0  # TCP keepalive and TCP_USER_TIMEOUT on accepted sockets
    lease_ttl: float = 30.0
    state_dir: str = ".flagstream"
    dev_mode: bool = False
    log_level: str = "info"
    header_timeout: float = 10.0  # a request's head must arrive within this (slow-header clients)
    metrics_enabled: bool = True  # off: NoopMetrics (benchmarks measure what metrics cost)
    cors_origins: str = ""  # comma-separated exact origins allowed to call the user routes
    stream_cookie: bool = False  # POST /v1/stream-session sets a cookie the stream and inbox accept
    stream_cookie_samesite: str = "lax"  # lax | strict | none (none: only with CORS_ORIGINS, cross-site pages)
    trusted_proxies: str = ""  # comma-separated CIDRs whose X-Forwarded-For/-Proto are believed
    access_log: bool = False  # one line per request on stderr (always on at LOG_LEVEL=debug)

    def replace(self, **changes: Any) -> Settings:
        return validate(dataclasses.replace(self, **changes))


_CHOICES = {
    "broker": ("memory", "redis", "redis-cluster"),
    "user_limit_policy": ("reject", "evict_oldest"),
    "flags_failsafe": ("off", "on"),
    "log_level": ("debug", "info", "warning", "error"),
    "stream_cookie_samesite": ("lax", "strict", "none"),
}
_MINIMUM = {
    "port": 0,
    "workers": 1,
    "max_connections": 1,
    "max_connections_per_user": 1,
    "ping_interval": 0.05,
    "queue_size": 1,
    "queue_max_bytes": 1024,
    "queue_max_delay": 1,
    "batch_window_ms": 0,
    "collapse_window_ms": 0,
    "history_size": 1,
    "history_ttl": 1,
    "max_payload_bytes": 1,
    "max_batch": 1,
    "max_data_depth": 1,
    "retry_ms": 0,
    "max_recipients_per_request": 1,
    "redis_cluster_wait_replicas": 0,
    "redis_cluster_wait_timeout_ms": 1,
    "publish_rate": 0,
    "publish_burst": 1,
    "stream_rate": 0,
    "stream_burst": 1,
    "flags_refresh_interval": 0.05,
    "shutdown_grace": 0,
    "lease_ttl": 1,
    "ready_timeout": 0.01,
    "dead_peer_timeout": 1,
    "rollout_status_interval": 0.1,
    "jwks_refresh_interval": 1,
    "header_timeout": 0.1,
    "disable_spread": 0,
}
_MAXIMUM = {
    "port": 65535,
    "batch_window_ms": 1000,
    "collapse_window_ms": 60_000,
    "ready_timeout": 60,
    "header_timeout": 75,
    "max_recipients_per_request": 100_000,
    "redis_cluster_wait_timeout_ms": 60_000,
    "max_data_depth": 500,
}  # below any JSON reader's recursion limit


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults ← TOML file ← ``FLAGSTREAM_*`` env ← explicit overrides, then validate."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if config_file:
        raw.update(_read_toml(Path(config_file)))
    for f in fields(Settings):
        name = ENV_PREFIX + f.name.upper()
        if name in env:
            raw[f.name] = env[name]
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name: f for f in fields(Settings)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{ENV_PREFIX}{key.upper()}: unknown setting")
        values[key] = _coerce(known[key], value)
    return validate(Settings(**values))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--config: no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    section = data.get("flagstream", data)
    return {str(k).lower(): v for k, v in section.items()}


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    label = ENV_PREFIX + f.name.upper()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(str(value).strip())
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            number = float(str(value).strip())
            if not math.isfinite(number):  # nan passes every comparison with a bound
                raise ValueError
            return number
        return str(value)
    except ValueError:
        raise ConfigError(f"{label}: expected {kind}, got {value!r}") from None


def token_environment(api_token: str) -> str | None:
    """The environment an Unleash client token reads (``project:environment.secret``), None if unknown."""
    scope, dot, _ = api_token.partition(".")
    project, colon, environment = scope.partition(":")
    return environment if dot and colon and project and environment else None


def _check_controller_environment(s: Settings) -> None:
    """The in-service controller must write to the environment this service reads flags from."""
    if not (s.rollout_controller and s.unleash_url):
        return
    reads = token_environment(s.unleash_api_token)
    if reads is not None and reads != s.unleash_environment:
        raise ConfigError(
            f"FLAGSTREAM_UNLEASH_ENVIRONMENT: the rollout controller would write to {s.unleash_environment!r} "
            f"but this service reads flags from {reads!r} (FLAGSTREAM_UNLEASH_API_TOKEN); set them to the same environment"
        )


def validate(s: Settings) -> Settings:
    for name, choices in _CHOICES.items():
        value = getattr(s, name)
        if value not in choices:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be one of {', '.join(choices)}, got {value!r}")
    for name, low in _MINIMUM.items():
        if getattr(s, name) < low:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be at least {low}, got {getattr(s, name)!r}")
    for name, high in _MAXIMUM.items():
        if getattr(s, name) > high:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be at most {high}, got {getattr(s, name)!r}")
    if s.broker == "memory" and s.workers > 1:
        raise ConfigError(
            "FLAGSTREAM_WORKERS: the memory broker keeps its state in one process; "
            "use FLAGSTREAM_BROKER=redis to run more than one worker"
        )
    if s.broker == "redis" and urlparse(s.redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"FLAGSTREAM_REDIS_URL: not a redis:// URL: {_masked(s.redis_url)!r}")
    if s.broker == "redis-cluster" and not all(
        urlparse(u.strip()).scheme in ("redis", "rediss") and urlparse(u.strip()).port for u in s.redis_url.split(",")
    ):
        raise ConfigError("FLAGSTREAM_REDIS_URL: redis-cluster needs redis://host:port seed URLs, comma-separated")
    if s.unleash_url and urlparse(s.unleash_url).scheme not in ("http", "https"):
        raise ConfigError(f"FLAGSTREAM_UNLEASH_URL: not an http(s) URL: {s.unleash_url!r}")
    if s.flags_file and not s.unleash_url and not Path(s.flags_file).is_file():
        raise ConfigError(f"FLAGSTREAM_FLAGS_FILE: no such file: {s.flags_file}")
    _validate_deployment(s)
    _check_controller_environment(s)
    if s.jwt_public_key and s.jwks_url:
        raise ConfigError("FLAGSTREAM_JWKS_URL: set either JWT_PUBLIC_KEY or JWKS_URL, not both")
    from .security_settings import validate_security

    validate_security(s)
    return s


def _validate_deployment(s: Settings) -> None:
    """Cross-origin, cookie and proxy settings (see docs/deploy.md)."""
    from .cors import parse_origins
    from .proxy_headers import parse_networks

    try:
        parse_origins(s.cors_origins)
    except ValueError as exc:
        raise ConfigError(f"FLAGSTREAM_CORS_ORIGINS: {exc}") from None
    try:
        parse_networks(s.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"FLAGSTREAM_TRUSTED_PROXIES: {exc}") from None
    if s.stream_cookie_samesite == "none" and not s.cors_origins.strip():
        raise ConfigError("FLAGSTREAM_STREAM_COOKIE_SAMESITE: none is for pages on another site; set CORS_ORIGINS to them first")


def _masked(url: str) -> str:
    from sse_service.broker.redis_url import masked

    return masked(url)
