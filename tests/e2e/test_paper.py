"""`tradestack paper --duration N` end to end, as a user runs it: fills happen, /metrics has samples."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def start_paper(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    config = tmp_path / "paper.yaml"
    config.write_text("http:\n  port: 0\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradestack.cli",
            "paper",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "--no-view",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    for line in process.stderr:
        match = re.search(r"metrics on (http://\S+)", line)
        if match:
            return process, match.group(1).removesuffix("/metrics")
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError("paper never announced its metrics address")


def test_paper_trades_and_exports_the_three_slo_metrics(tmp_path: Path) -> None:
    process, base = start_paper(tmp_path, "--duration", "20")
    try:
        deadline = time.monotonic() + 18
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                ready = urllib.request.urlopen(base + "/readyz", timeout=2).status == 200
            except OSError:
                time.sleep(0.2)
        assert ready, "never became ready (books synced and reconciled)"
        filled = {}
        while time.monotonic() < deadline:
            metrics = scrape(base + "/metrics")
            filled = {labels["symbol"]: value for labels, value in metrics.get("trading_fills_total", [])}
            if sum(filled.values()) >= 2:
                break
            time.sleep(0.5)
        assert sum(filled.values()) >= 2, f"no fills within the run: {filled}"
        assert any(v > 0 for labels, v in metrics["trading_fill_latency_seconds_count"] if labels["exchange"])
        ages = {labels["symbol"]: v for labels, v in metrics["trading_market_data_age_seconds"]}
        assert set(ages) == {"BTCUSDT", "ETHUSDT"} and all(0 <= v < 5 for v in ages.values())
        drift = {labels["symbol"]: v for labels, v in metrics["trading_position_drift_percent"]}
        assert set(drift) == {"BTCUSDT", "ETHUSDT"}
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-3000:]
    assert "summary" in out


def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    process, _ = start_paper(tmp_path)
    try:
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-3000:]
    assert "summary" in out


def test_credentials_in_the_environment_refuse_the_start(tmp_path: Path) -> None:
    env = clean_env() | {"BINANCE_API_KEY": "should-not-be-here"}
    result = subprocess.run(
        [sys.executable, "-m", "tradestack.cli", "paper", "--data-dir", str(tmp_path), "--duration", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BINANCE_API_KEY" in result.stderr and "should-not-be-here" not in result.stderr
