"""Shared helpers of the deployment tests: find the tools, render overlays once.

A missing tool skips with the reason and the install step, except under CI=true where it fails:
CI must never pass by checking nothing. `scripts/test-deps-deploy.sh` installs every tool.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("paper", "live")
# One market-data connector Deployment per venue (deploy/k8s/base/connector-<venue>.yaml). Every
# connector leaves on 443 only, except okx's, whose WebSocket is on 8443 (and REST on 443).
VENUES = ("binance", "binance-futures", "coinbase", "bybit", "kraken", "okx")
KUBERNETES_VERSION = "1.32.0"  # EKS cluster_version in deploy/terraform
VENV_BIN = Path(sys.executable).parent
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
NODE_TOOLS = REPO / ".venv-node"
INSTALL_HINT = "run `bash scripts/test-deps-deploy.sh`"


def missing(what: str) -> None:
    """Skip with a reason, or fail under CI=true."""
    message = f"{what} is not installed ({INSTALL_HINT})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str) -> str:
    """An executable from the project venv or PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing(name)
        raise AssertionError("unreachable")
    return found


def python_module(name: str) -> None:
    try:
        __import__(name)
    except ImportError:
        missing(f"python module {name}")


@functools.cache
def _render(overlay: str) -> tuple[str, str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return "", "kubectl"
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return result.stdout, ""


def rendered_text(overlay: str) -> str:
    text, absent = _render(overlay)
    if absent:
        missing(absent)
    return text


def rendered(overlay: str) -> list[dict[str, Any]]:
    from tradestack.ops.config_check import parse_manifests

    return parse_manifests(rendered_text(overlay))


def run(command: list[str], timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
