"""Writes prometheusrule.yaml from observability/prometheus/flagstream.rules.yml.

    python deploy/kubernetes/generate.py

The rule file is the single source (promtool tests it); the PrometheusRule carries its
text unchanged under `spec`, and tests/deploy/test_kubernetes_manifests.py fails when the
two drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "observability" / "prometheus" / "flagstream.rules.yml"
OUTPUT = Path(__file__).resolve().parent / "prometheusrule.yaml"
HEADER = """\
# GENERATED from observability/prometheus/flagstream.rules.yml by deploy/kubernetes/generate.py:
# edit the rule file and run `python deploy/kubernetes/generate.py`, never this file.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: flagstream
  labels:
    app.kubernetes.io/name: flagstream
spec:
"""


def prometheus_rule(rules_text: str) -> str:
    body = "".join(f"  {line}" if line.strip() else "\n" for line in rules_text.splitlines(keepends=True))
    return HEADER + body


def main() -> int:
    OUTPUT.write_text(prometheus_rule(RULES.read_text()))
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
