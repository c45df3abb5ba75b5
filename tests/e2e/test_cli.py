"""The command line as a user runs it: replay, validate-config, kill-switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TRADESTACK = [sys.executable, "-m", "tradestack.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "KEY" not in k and "SECRET" not in k}
    return subprocess.run([*TRADESTACK, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_replay_prints_the_integrity_report_as_json(corpus: Path) -> None:
    result = run(
        "replay",
        "--venue",
        "binance",
        "--json",
        str(corpus / "hftbacktest/examples/spot/btcusdt_20240808.gz"),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    keys = {
        "messages",
        "events_applied",
        "gaps",
        "resyncs",
        "checksum_ok",
        "checksum_failed",
        "crosscheck_ok",
    }
    assert keys | {"crosscheck_failed", "symbols"} <= set(report)
    assert report["gaps"] == 0 and report["crosscheck_failed"] == 0 and report["crosscheck_ok"] > 0
    assert report["symbols"]["BTCUSDT"]["events_applied"] == report["events_applied"]


def test_replay_of_futures_from_cryptofeed_as_text(corpus: Path) -> None:
    result = run(
        "replay", "--venue", "binance-futures", str(corpus / "cryptofeed/sample_data/BINANCE_FUTURES.ws.1.0")
    )
    assert result.returncode == 0, result.stderr
    assert "gaps" in result.stdout


def test_replay_exits_non_zero_on_a_mismatch(corpus: Path, tmp_path: Path) -> None:
    # a bookTicker that disagrees with the book the depth stream builds
    lines = (corpus / "cryptofeed/sample_data/BINANCE.ws.1.0").read_text().splitlines()
    broken = [line.replace('"b":"', '"b":"9', 1) if "@bookTicker" in line else line for line in lines]
    (tmp_path / "BINANCE.ws.1.0").write_text("\n".join(broken) + "\n")
    (tmp_path / "BINANCE.http.0.0").write_text(
        (corpus / "cryptofeed/sample_data/BINANCE.http.0.0").read_text()
    )
    result = run("replay", "--venue", "binance", "--json", str(tmp_path / "BINANCE.ws.1.0"))
    assert result.returncode == 1
    assert json.loads(result.stdout)["crosscheck_failed"] > 0


def test_validate_config_names_the_field_and_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk:\n  max_order_notional: -5\nstrategy:\n  half_spred_bps: 3\n")
    result = run("validate-config", str(bad))
    assert result.returncode == 1
    assert "risk.max_order_notional" in result.stderr
    assert "half_spred_bps" in result.stderr and "half_spread_bps" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text("symbols: [BTCUSDT, ETHUSDT]\nrisk:\n  daily_loss_limit: '250'\n")
    assert run("validate-config", str(good)).returncode == 0


def test_validate_config_rejects_secrets_named_by_environment_variable(tmp_path: Path) -> None:
    bad = tmp_path / "env.yaml"
    bad.write_text("secrets:\n  path: ${BINANCE_SECRET_FILE}\n")
    result = run("validate-config", str(bad))
    assert result.returncode == 1
    assert "secrets.path" in result.stderr and "environment" in result.stderr


def test_replay_of_the_other_recorded_venues(corpus: Path) -> None:
    cases = {
        "okx": corpus / "cryptofeed/sample_data/OKCOIN.ws.1.0",
        "bybit": corpus / "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip",
        "coinbase": corpus / "cryptofeed/sample_data/COINBASE.ws.28.0",
    }
    for venue, path in cases.items():
        result = run("replay", "--venue", venue, "--json", str(path))
        assert result.returncode == 0, (venue, result.stderr)
        report = json.loads(result.stdout)
        assert report["gaps"] == 0 and report["events_applied"] > 0, (venue, report)
    okx = json.loads(run("replay", "--venue", "okx", "--json", str(cases["okx"])).stdout)
    assert okx["checksum_ok"] > 0 and okx["checksum_failed"] == 0
