"""Settings: defaults that run the embedded mode, then a TOML file, env, and CLI flags."""

from __future__ import annotations

import dataclasses
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
    jwt_secret: str = ""                   # empty: a development secret from STATE_DIR
    jwt_public_key: str = ""               # PEM text or a path (RS256/ES256)
    jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = ""
    publish_token: str = ""                # empty: a development token from STATE_DIR
    admin_token: str = ""
    metrics_token: str = ""                # empty: /metrics is open
    broker: str = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "flagstream:"
    workers: int = 1
    max_connections: int = 20000
    max_connections_per_user: int = 5
    user_limit_policy: str = "reject"
    ping_interval: float = 30.0
    queue_size: int = 512
    batch_window_ms: int = 0
    history_size: int = 1000
    history_ttl: float = 86400.0
    max_payload_bytes: int = 65536
    max_batch: int = 1000
    retry_ms: int = 3000
    flags_file: str = ""                   # empty: the shipped default (sse-delivery on)
    unleash_url: str = ""
    unleash_api_token: str = ""
    unleash_app_name: str = "flagstream"
    rollout_flag: str = "sse-delivery"
    flags_refresh_interval: float = 5.0
    flags_failsafe: str = "off"
    rollout_plan: str = "rollout.toml"     # read by /v1/admin/stats and `flagstream rollout`
    rollout_state: str = ".flagstream/rollout-state.json"   # a file, or a redis:// URL
    rollout_controller: bool = False       # run the rollout controller inside this service
    rollout_webhook: str = ""
    unleash_admin_token: str = ""          # the rollout controller changes flags through it
    unleash_project: str = "default"       # where the rollout controller (and `flagstream rollout`) writes
    unleash_environment: str = "development"
    disable_spread: float = 0.0            # seconds over which `disabled` is spread when a flag goes off
    prometheus_url: str = ""               # gates query Prometheus instead of scraping /metrics
    shutdown_grace: float = 10.0
    lease_ttl: float = 30.0
    state_dir: str = ".flagstream"
    dev_mode: bool = False
    log_level: str = "info"
    metrics_enabled: bool = True           # off: NoopMetrics (benchmarks measure what metrics cost)

    def replace(self, **changes: Any) -> "Settings":
        return validate(dataclasses.replace(self, **changes))


_CHOICES = {
    "broker": ("memory", "redis"),
    "user_limit_policy": ("reject", "evict_oldest"),
    "flags_failsafe": ("off", "on"),
    "log_level": ("debug", "info", "warning", "error"),
}
_MINIMUM = {
    "port": 0, "workers": 1, "max_connections": 1, "max_connections_per_user": 1,
    "ping_interval": 0.05, "queue_size": 1, "batch_window_ms": 0, "history_size": 1,
    "history_ttl": 1, "max_payload_bytes": 1, "max_batch": 1, "retry_ms": 0,
    "flags_refresh_interval": 0.05, "shutdown_grace": 0, "lease_ttl": 1, "disable_spread": 0,
}
_MAXIMUM = {"port": 65535, "batch_window_ms": 1000}


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
            return float(str(value).strip())
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
        raise ConfigError(f"FLAGSTREAM_REDIS_URL: not a redis:// URL: {s.redis_url!r}")
    if s.unleash_url and urlparse(s.unleash_url).scheme not in ("http", "https"):
        raise ConfigError(f"FLAGSTREAM_UNLEASH_URL: not an http(s) URL: {s.unleash_url!r}")
    if s.flags_file and not s.unleash_url and not Path(s.flags_file).is_file():
        raise ConfigError(f"FLAGSTREAM_FLAGS_FILE: no such file: {s.flags_file}")
    _check_controller_environment(s)
    if s.jwt_public_key and s.jwks_url:
        raise ConfigError("FLAGSTREAM_JWKS_URL: set either JWT_PUBLIC_KEY or JWKS_URL, not both")
    return s
