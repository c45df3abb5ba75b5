"""`tradestack replay --venue okx|kraken FILE` as a user runs it: same JSON keys, checksums counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradestack.app.replay import SymbolReport

pytestmark = pytest.mark.corpus
TRADESTACK = [sys.executable, "-m", "tradestack.cli"]


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TRADESTACK, *arguments], capture_output=True, text=True, timeout=120, check=False)


def test_okx_replay_json_reports_every_checksum_verified(corpus: Path) -> None:
    result = run("replay", "--venue", "okx", "--json", str(corpus / "cryptofeed/sample_data/OKCOIN.ws.1.0"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {*SymbolReport.JSON_KEYS, "symbols"}
    assert report["checksum_ok"] == 6 and report["checksum_failed"] == 0 and report["gaps"] == 0
    assert set(report["symbols"]) == {"BTC-USD", "ETH-USD", "USDC-USDT", "USDT-USD"}


def test_kraken_replay_as_text(corpus: Path) -> None:
    result = run("replay", "--venue", "kraken", str(corpus / "cryptofeed/sample_data/KRAKEN.ws.48.0"))
    assert result.returncode == 0, result.stderr
    assert "checksums: 0 verified, 0 failed" in result.stdout
