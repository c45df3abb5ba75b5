"""`tradestack connector --venue binance`: a market-data process with books in sync and no keys."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import eventually
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.timeout(90)
async def test_the_connector_syncs_books_and_reports_them(tmp_path: Path) -> None:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50)))
    await asyncio.wait_for(sim.start(), 10)
    (tmp_path / "tradestack.yaml").write_text("http:\n  port: 0\n")
    (tmp_path / "exchanges.yaml").write_text(
        f"venues:\n  binance: {{rest: '{sim.rest_url}', stream: '{sim.ws_url}'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradestack.cli", "connector", "--venue", "binance",
        "--config", str(tmp_path / "tradestack.yaml"), "--exchanges", str(tmp_path / "exchanges.yaml"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        base = ""
        while not base:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "connector exited early"
            found = re.search(r"metrics on (http://\S+)/metrics", line)
            base = found.group(1) if found else ""
        drain = asyncio.get_running_loop().create_task(process.stderr.read())

        async def ready() -> bool:
            return (await asyncio.to_thread(get, base + "/readyz"))[0] == 200

        await eventually(ready, timeout=20, interval=0.1)
        status, text = await asyncio.to_thread(get, base + "/metrics")
        assert status == 200
        assert re.search(r'trading_book_synced\{exchange="binance",symbol="BTCUSDT"\} 1\.0', text)
        assert re.search(r'trading_market_data_age_seconds\{exchange="binance",symbol="ETHUSDT"\}', text)
        assert sim.open_orders() == []  # market data only: it never trades
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(sim.stop(), 10)
