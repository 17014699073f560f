"""Pins what `flags` exports and what the factories choose."""

import threading

import pytest

import flags
from flags import (
    FileFlagGate,
    FlagConfigError,
    FlagGateConfig,
    UnleashFlagAdmin,
    UnleashFlagGate,
    build_flag_admin,
    build_flag_gate,
)


def test_public_surface():
    assert sorted(flags.__all__) == [
        "DEFAULT_FLAGS_FILE",
        "Decision",
        "FileFlagAdmin",
        "FileFlagGate",
        "FlagAdmin",
        "FlagConfigError",
        "FlagFreshness",
        "FlagGate",
        "FlagGateConfig",
        "FlagHealth",
        "FlagsFileError",
        "KNOB_BOUNDS",
        "Knobs",
        "KnobsPayloadError",
        "RolloutState",
        "UnleashAdminError",
        "UnleashFlagAdmin",
        "UnleashFlagGate",
        "build_flag_admin",
        "build_flag_gate",
        "parse_knobs",
    ]
    assert all(hasattr(flags, name) for name in flags.__all__)


def test_factories_choose_the_backend_and_start_nothing():
    threads_before = threading.active_count()
    assert isinstance(build_flag_gate(FlagGateConfig()), FileFlagGate)
    assert isinstance(build_flag_gate(FlagGateConfig(unleash_url="http://127.0.0.1:1")), UnleashFlagGate)
    admin = build_flag_admin(unleash_url="http://127.0.0.1:1", admin_token="*:*.x")
    assert isinstance(admin, UnleashFlagAdmin)
    assert threading.active_count() == threads_before


def test_factory_refuses_settings_that_cannot_work():
    with pytest.raises(FlagConfigError, match="failsafe must be 'off' or 'on', got 'maybe'"):
        build_flag_gate(FlagGateConfig(failsafe="maybe"))
    with pytest.raises(FlagConfigError, match="refresh_interval"):
        build_flag_gate(FlagGateConfig(refresh_interval=0))
    with pytest.raises(FlagConfigError, match="admin API token"):
        build_flag_admin(unleash_url="http://127.0.0.1:1")
