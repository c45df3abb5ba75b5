"""Argo Rollouts objects: schema-valid for @kubernetes-models/argo-rollouts@2.0.0 (pinned; its schema
accepts unknown keys, so our own key checks follow), the canary steps, and the analysis queries name
metrics that tradestack really exports."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from deploy.deploy_tools import NODE_TOOLS, REPO, missing, rendered, run
from tradestack.observability.metrics import Metrics
from tradestack.ports import SystemClock

ROLLOUT_KEYS = {"replicas", "revisionHistoryLimit", "selector", "workloadRef", "strategy"}
CANARY_KEYS = {"maxUnavailable", "maxSurge", "steps"}
METRIC_KEYS = {"name", "interval", "count", "failureLimit", "successCondition", "provider"}
EXPECTED_STEPS = [
    {"setWeight": 10},
    {"pause": {"duration": "5m"}},
    {
        "analysis": {
            "templates": [{"templateName": "trading-health"}],
            "args": [{"name": "exchange", "value": "binance"}],
        }
    },
    {"setWeight": 50},
    {"pause": {"duration": "10m"}},
    {"setWeight": 100},
]


def _argo(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        missing("node")
    if not (NODE_TOOLS / "node_modules" / "@kubernetes-models" / "argo-rollouts").is_dir():
        missing("npm @kubernetes-models/argo-rollouts (in .venv-node)")
    script = REPO / "tests" / "deploy" / "argo_validate.cjs"
    result = run([str(node), str(script), str(NODE_TOOLS / "node_modules")], input=json.dumps(objects))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def argo_objects() -> list[dict[str, Any]]:
    return [o for o in rendered("live") if o["apiVersion"].startswith("argoproj.io/")]


def test_the_pinned_models_accept_our_objects(argo_objects: list[dict[str, Any]]) -> None:
    results = _argo(argo_objects)
    package = json.loads(
        (NODE_TOOLS / "node_modules/@kubernetes-models/argo-rollouts/package.json").read_text()
    )
    assert package["version"] == "2.0.0"
    assert {(r["kind"], r["name"]) for r in results} == {
        ("Rollout", "connector-binance"),
        ("AnalysisTemplate", "trading-health"),
    }
    assert [r["error"] for r in results] == [None, None]


def test_the_models_reject_a_wrong_type(argo_objects: list[dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(argo_objects))
    rollout = next(o for o in broken if o["kind"] == "Rollout")
    rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = "ten"
    errors = [r["error"] for r in _argo(broken) if r["error"]]
    assert errors == ["data/spec/strategy/canary/steps/0/setWeight must be integer"]


def test_rollout_keys_and_canary_steps(argo_objects: list[dict[str, Any]]) -> None:
    rollout = next(o for o in argo_objects if o["kind"] == "Rollout")
    assert set(rollout["spec"]) == ROLLOUT_KEYS
    assert set(rollout["spec"]["strategy"]) == {"canary"}
    canary = rollout["spec"]["strategy"]["canary"]
    assert set(canary) == CANARY_KEYS
    assert canary["steps"] == EXPECTED_STEPS
    assert rollout["spec"]["workloadRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "connector-binance",
        "scaleDown": "progressively",
    }


def test_analysis_queries_use_exported_metrics(argo_objects: list[dict[str, Any]]) -> None:
    template = next(o for o in argo_objects if o["kind"] == "AnalysisTemplate")
    assert {arg["name"] for arg in template["spec"]["args"]} == {"exchange", "prometheus-address"}
    registry = CollectorRegistry()
    Metrics(SystemClock(), registry)
    exported = set()
    for family in registry.collect():
        exported.add(family.name)
        exported.update(sample.name for sample in family.samples)
        exported.update({f"{family.name}_bucket", f"{family.name}_total"})
    names = {}
    for metric in template["spec"]["metrics"]:
        assert set(metric) == METRIC_KEYS, metric["name"]
        assert set(metric["provider"]) == {"prometheus"}
        query = metric["provider"]["prometheus"]["query"]
        used = set(re.findall(r"\b(trading_[a-z_]+)\b", query))
        assert used and used <= exported, (metric["name"], used - exported)
        assert '{exchange="{{args.exchange}}"}' in query
        names[metric["name"]] = used
    assert names == {
        "fill-latency-p99": {"trading_fill_latency_seconds_bucket"},
        "rejection-rate": {"trading_orders_rejected_total", "trading_orders_sent_total"},
        "position-drift": {"trading_position_drift_percent"},
        "websocket-up": {"trading_websocket_up"},
    }
