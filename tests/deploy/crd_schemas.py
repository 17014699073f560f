"""Structural schemas for the two custom resources kubernetes-validate has no schema for.

Written from prometheus-operator's API reference (monitoring.coreos.com/v1), covering
the fields flagstream's manifests use and refusing any other (a typo fails); metadata and
label selectors are checked against the Kubernetes schemas kubernetes-validate ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.37.0"
_DEFINITIONS = "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1."
DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "$id": f"https://kubernetes.io/api/{kind.lower()}.json",
        **_closed(
            {
                "apiVersion": {"const": "monitoring.coreos.com/v1"},
                "kind": {"const": kind},
                "metadata": {"$ref": _DEFINITIONS + "ObjectMeta"},
                "spec": spec,
            },
            ["apiVersion", "kind", "metadata", "spec"],
        ),
    }


SERVICE_MONITOR = _resource(
    "ServiceMonitor",
    _closed(
        {
            "selector": {"$ref": _DEFINITIONS + "LabelSelector"},
            "namespaceSelector": _closed(
                {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}, []
            ),
            "jobLabel": {"type": "string"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    {
                        "port": {"type": "string"},
                        "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": DURATION,
                        "scrapeTimeout": DURATION,
                        "honorLabels": {"type": "boolean"},
                        "authorization": _closed(
                            {
                                "type": {"type": "string"},
                                "credentials": _closed(
                                    {"name": {"type": "string"}, "key": {"type": "string"}, "optional": {"type": "boolean"}},
                                    ["key"],
                                ),
                            },
                            [],
                        ),
                    },
                    ["port"],
                ),
            },
        },
        ["selector", "endpoints"],
    ),
)

PROMETHEUS_RULE = _resource(
    "PrometheusRule",
    _closed(
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    {
                        "name": {"type": "string", "minLength": 1},
                        "interval": DURATION,
                        "rules": {
                            "type": "array",
                            "items": {
                                **_closed(
                                    {
                                        "record": {"type": "string"},
                                        "alert": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": DURATION,
                                        "keep_firing_for": DURATION,
                                        "labels": STRING_MAP,
                                        "annotations": STRING_MAP,
                                    },
                                    ["expr"],
                                ),
                                "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
                            },
                        },
                    },
                    ["name", "rules"],
                ),
            },
        },
        ["groups"],
    ),
)

SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}


def crd_errors(document: dict[str, Any]) -> list[str]:
    """Every structural problem of a ServiceMonitor or PrometheusRule, as readable lines."""
    schema = SCHEMAS[document["kind"]]
    validator = Draft202012Validator(schema, registry=_registry())
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def _registry() -> Registry:
    path = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
        / "_definitions.json"
    )
    definitions = json.loads(path.read_text())
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
