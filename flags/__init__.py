"""Feature flags for flagstream: who is in the SSE rollout, per-user tuning, and flag admin."""

from flags.factory import build_flag_admin, build_flag_gate
from flags.file_admin import FileFlagAdmin
from flags.file_gate import FileFlagGate
from flags.flags_file import DEFAULT_FLAGS_FILE
from flags.knobs import KNOB_BOUNDS, parse_knobs
from flags.types import (
    Decision,
    FlagAdmin,
    FlagConfigError,
    FlagFreshness,
    FlagGate,
    FlagGateConfig,
    FlagHealth,
    FlagsFileError,
    Knobs,
    KnobsPayloadError,
    RolloutState,
    UnleashAdminError,
)
from flags.unleash_admin import UnleashFlagAdmin
from flags.unleash_gate import UnleashFlagGate

__all__ = [
    "DEFAULT_FLAGS_FILE",
    "KNOB_BOUNDS",
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
