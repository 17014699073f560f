"""Flags documents for tests, in the Unleash client-API format."""

from __future__ import annotations

import json
from pathlib import Path


def rollout_feature(name: str = "sse-delivery", percent: int = 100, enabled: bool = True) -> dict:
    return {
        "name": name,
        "enabled": enabled,
        "strategies": [
            {
                "name": "flexibleRollout",
                "constraints": [],
                "parameters": {"rollout": str(percent), "stickiness": "userId", "groupId": name},
            }
        ],
    }


def tuning_feature(payload_value: str, payload_type: str = "json", name: str = "sse-tuning") -> dict:
    return {
        "name": name,
        "enabled": True,
        "strategies": [
            {
                "name": "flexibleRollout",
                "constraints": [],
                "parameters": {"rollout": "100", "stickiness": "userId", "groupId": name},
            }
        ],
        "variants": [
            {
                "name": "tuned",
                "weight": 1000,
                "weightType": "variable",
                "stickiness": "userId",
                "payload": {"type": payload_type, "value": payload_value},
            }
        ],
    }


def document(*features: dict) -> str:
    return json.dumps({"version": 2, "features": list(features)})


def write(path: Path, *features: dict) -> Path:
    path.write_text(document(*features))
    return path
