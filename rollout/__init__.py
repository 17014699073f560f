"""Phased rollout of the SSE flag: a plan, a controller gated on metrics, an audit log."""

from rollout.cli import add_commands
from rollout.controller import RolloutController
from rollout.plan import load_plan, parse_plan
from rollout.stats import rollout_status_reader
from rollout.types import ControllerState, Phase, Plan, PlanError, RolloutError
from rollout.wiring import RolloutOptions, rollback_on_alert, rollout_status, run_rollout_controller

__all__ = [
    "ControllerState",
    "Phase",
    "Plan",
    "PlanError",
    "RolloutController",
    "RolloutError",
    "RolloutOptions",
    "add_commands",
    "load_plan",
    "parse_plan",
    "rollback_on_alert",
    "rollout_status",
    "rollout_status_reader",
    "run_rollout_controller",
]
