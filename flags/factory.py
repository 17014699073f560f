"""Factories: the only way the service builds a FlagGate or a FlagAdmin."""

from __future__ import annotations

from flags.file_admin import FileFlagAdmin
from flags.file_gate import FileFlagGate
from flags.flags_file import DEFAULT_FLAGS_FILE
from flags.types import FlagAdmin, FlagConfigError, FlagGate, FlagGateConfig
from flags.unleash_admin import UnleashFlagAdmin
from flags.unleash_gate import UnleashFlagGate

FAILSAFE_CHOICES = ("off", "on")


def build_flag_gate(config: FlagGateConfig) -> FlagGate:
    """The Unleash server backend when ``unleash_url`` is set, else the offline file backend
    (``flags_file``, or the shipped defaults: ``sse-delivery`` on for everyone).

    Nothing is started: call ``await gate.start()`` in the serving lifecycle.
    Raises FlagConfigError (one line) for settings that cannot work.
    """
    if config.failsafe not in FAILSAFE_CHOICES:
        raise FlagConfigError(f"failsafe must be 'off' or 'on', got {config.failsafe!r}")
    if not config.refresh_interval > 0:
        raise FlagConfigError(f"refresh_interval must be above 0 seconds, got {config.refresh_interval!r}")
    if config.unleash_url:
        return UnleashFlagGate(config)
    return FileFlagGate(config, config.flags_file or DEFAULT_FLAGS_FILE)


def build_flag_admin(
    *,
    flags_file: str | None = None,
    unleash_url: str | None = None,
    admin_token: str | None = None,
    project: str = "default",
    environment: str = "development",
    flag: str = "sse-delivery",
) -> FlagAdmin:
    """Unleash Admin API when ``unleash_url`` is set, else the local ``flags_file``."""
    if unleash_url:
        return UnleashFlagAdmin(unleash_url, admin_token=admin_token, project=project, environment=environment, flag=flag)
    if flags_file:
        return FileFlagAdmin(flags_file, flag=flag)
    raise FlagConfigError("flag admin needs a flags file or an Unleash URL (the shipped defaults are read-only)")
