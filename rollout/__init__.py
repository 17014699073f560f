"""Phased rollout of the SSE flag: a plan, a controller gated on metrics, an audit log."""

from rollout.cli import add_commands
from rollout.controller import RolloutController
from rollout.factory import RolloutOptions, open_controller
from rollout.live_view import status_document, timeline_document
from rollout.observer import RolloutObserver, RolloutSnapshot
from rollout.plan import load_plan, parse_plan
from rollout.types import ControllerState, Phase, Plan, PlanError, RolloutError

__all__ = [
    "ControllerState",
    "Phase",
    "Plan",
    "PlanError",
    "RolloutController",
    "RolloutError",
    "RolloutObserver",
    "RolloutOptions",
    "RolloutSnapshot",
    "add_commands",
    "load_plan",
    "parse_plan",
    "open_controller",
    "status_document",
    "timeline_document",
]
