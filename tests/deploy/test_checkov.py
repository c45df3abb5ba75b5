"""checkov over the Terraform and the rendered Kubernetes overlays: zero failures, and every skip
states its reason. checkov runs from its own virtualenv (.venv-checkov): it pins libraries that
break ours. `--skip-download` and CKV_SKIP_PACKAGE_UPDATE_CHECK keep it off the network."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.deploy_tools import CHECKOV, DEPLOY, OVERLAYS, VENUES, missing, rendered_text, run

TERRAFORM = DEPLOY / "terraform"
SKIP_LISTS = {
    "terraform": TERRAFORM / "checkov-skips.yaml",
    "kubernetes": DEPLOY / "k8s" / "checkov-skips.yaml",
}
INLINE_SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
MIN_REASON = 20


def _skips(framework: str) -> dict[str, str]:
    loaded = yaml.safe_load(SKIP_LISTS[framework].read_text()) or {}
    assert isinstance(loaded, dict)
    return {str(check): str(reason) for check, reason in loaded.items()}


def _checkov(directory: Path, framework: str) -> dict[str, Any]:
    if not CHECKOV.exists():
        missing("checkov (in .venv-checkov)")
    # Run every check and apply the skip list here: a skip that matches no failure is then seen as stale.
    command = [str(CHECKOV), "-d", str(directory), "--framework", framework, "--skip-download", "-o", "json"]
    command += ["--quiet", "--compact"]
    environment = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    result = run(command, timeout=300, env=environment)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    skip_list = _skips(framework)
    merged: dict[str, Any] = {"failed": [], "listed": set(), "passed": 0, "resources": set()}
    for item in reports:
        results = item.get("results", {})
        for checked in [*results.get("passed_checks", []), *results.get("failed_checks", [])]:
            merged["resources"].add(checked["resource"])
        for failure in results.get("failed_checks", []):
            if failure["check_id"] in skip_list:
                merged["listed"].add(failure["check_id"])
            else:
                merged["failed"].append(failure)
        merged["passed"] += item.get("summary", {}).get("passed", 0)
    return merged


def _describe(failures: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']}:{f['file_line_range']})"
        for f in failures
    )


@pytest.mark.parametrize("framework", sorted(SKIP_LISTS))
def test_every_skip_in_the_lists_states_its_reason(framework: str) -> None:
    for check, reason in _skips(framework).items():
        assert len(reason.strip()) >= MIN_REASON, f"{framework} skip {check} needs a reason"


def test_every_inline_skip_states_its_reason() -> None:
    found = 0
    for path in [*TERRAFORM.rglob("*.tf"), *(DEPLOY / "k8s").rglob("*.yaml")]:
        for match in INLINE_SKIP.finditer(path.read_text()):
            found += 1
            assert match.group(2) and len(match.group(2).strip()) >= MIN_REASON, f"{path}: {match.group(0)}"
    assert found > 0


def test_checkov_terraform_has_no_failures() -> None:
    report = _checkov(TERRAFORM, "terraform")
    assert report["failed"] == [], _describe(report["failed"])
    assert report["passed"] > 300
    stale = set(_skips("terraform")) - report["listed"]
    assert not stale, f"skips that no longer skip anything, remove them: {sorted(stale)}"


def test_checkov_kubernetes_has_no_failures(tmp_path: Path) -> None:
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(rendered_text(overlay))
    report = _checkov(tmp_path, "kubernetes")
    assert report["failed"] == [], _describe(report["failed"])
    assert report["passed"] > 300
    stale = set(_skips("kubernetes")) - report["listed"]
    assert not stale, f"skips that no longer skip anything, remove them: {sorted(stale)}"
    # every venue's connector Deployment was among what checkov checked, in both overlays (checkov has
    # no checks for NetworkPolicy or PodDisruptionBudget objects; test_k8s.py checks those)
    for overlay in OVERLAYS:
        for venue in VENUES:
            assert f"Deployment.tradestack-{overlay}.connector-{venue}" in report["resources"], (
                overlay,
                venue,
            )
