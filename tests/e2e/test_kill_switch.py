"""The kill switch latch survives a restart and only an operator releases it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tradestack.store.sqlite import SqliteJournal

pytestmark = pytest.mark.slow


def tradestack(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
    return subprocess.run(
        [sys.executable, "-m", "tradestack.cli", *args], capture_output=True, text=True, timeout=90, env=env
    )


def test_a_latched_kill_switch_blocks_trading_across_restarts_until_reset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    journal = SqliteJournal(data / "journal.db")
    journal.put_meta_sync("kill_switch", "daily loss -612.5 breached limit 500")  # tripped by an earlier run
    journal.close()
    config = tmp_path / "c.yaml"
    config.write_text("http:\n  port: 0\n")

    status = tradestack("kill-switch", "status", "--data-dir", str(data))
    assert "engaged: daily loss" in status.stdout

    run = tradestack(
        "paper", "--config", str(config), "--data-dir", str(data), "--duration", "6", "--no-view"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "KILL SWITCH" in run.stdout
    assert re.search(r"BTCUSDT.*│\s+0\s+│\s+0\s+│", run.stdout), run.stdout  # no fills, no orders

    reset = tradestack("kill-switch", "reset", "--data-dir", str(data))
    assert "reset" in reset.stdout and "daily loss" in reset.stdout
    assert tradestack("kill-switch", "status", "--data-dir", str(data)).stdout.strip() == "not engaged"
