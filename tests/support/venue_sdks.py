"""The venues' own SDKs as reference signers: one subprocess per batch in .venv-sdks, JSON in and out.

`scripts/test-deps-venues.sh` installs the pinned SDKs into `.venv-sdks` (its own virtualenv: they pin
libraries that could break ours). Without it the signing comparisons skip with the command to run,
except under CI=true, where a missing reference is a failure. The SDKs are never imported here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "venues" / "sdk_reference" / "reference_signers.py"
TIMEOUT_SECONDS = 90.0

T = TypeVar("T")
Reference = Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]]


def sdks_python() -> Path:
    return Path(os.environ.get("TRADESTACK_VENV_SDKS", str(REPO / ".venv-sdks"))) / "bin" / "python"


def run_reference(kind: str, cases: list[dict[str, Any]]) -> Any:
    completed = subprocess.run(
        [str(sdks_python()), str(SCRIPT)],
        input=json.dumps({"kind": kind, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        cwd=REPO,
    )
    if completed.returncode != 0:
        raise AssertionError(f"reference signer {kind!r} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout)["results"]


def reference_signers() -> Reference:
    """The batch runner; skips (fails under CI=true) when .venv-sdks is not installed."""
    python = sdks_python()
    if not python.is_file():
        message = (
            f"venue reference SDKs not installed at {python.parent.parent}: run scripts/test-deps-venues.sh"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    def reference(kind: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = run_reference(kind, cases)
        assert len(results) == len(cases)
        return list(results)

    return reference


def draw_cases(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` hypothesis-generated cases, collected so that one subprocess checks them all."""
    cases: list[T] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: T) -> None:
        cases.append(case)

    collect()
    return cases


def mismatches(pairs: list[tuple[Any, Any, Any]]) -> str:
    """A readable report of the (case, ours, reference) triples that differ; empty when none do."""
    bad = [(case, ours, theirs) for case, ours, theirs in pairs if ours != theirs]
    lines = [f"{len(bad)} of {len(pairs)} differ"]
    for case, ours, theirs in bad[:3]:
        lines.append(f"case {case}\n  ours      {ours}\n  reference {theirs}")
    return "\n".join(lines) if bad else ""


# shared strategies
SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
api_keys = st.text("abcdefABCDEF0123456789-", min_size=8, max_size=64)
hmac_secrets = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=16, max_size=64
)
passphrases = st.text(SAFE + "!#$%*()", min_size=6, max_size=30)
names = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=14)
values = st.text(SAFE, min_size=1, max_size=24)
param_dicts = st.dictionaries(names, values, max_size=6)
unix_ns = st.integers(min_value=1_500_000_000 * 10**9, max_value=4_102_444_800 * 10**9)
