"""`tradestack connector --venue binance|okx|coinbase|bybit`: a market-data process with books in sync and
no keys, against the simulator speaking each venue's dialect."""

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
from tradestack.venues.simulated_binance_futures import (
    FuturesSimConfig,
    SimulatedBinanceFuturesExchange,
    coinm_symbols,
    futures_symbols,
)
from tradestack.venues.simulated_binance_futures.server import COIN_MARGIN_BALANCES
from tradestack.venues.simulated_bybit import BybitSimConfig, SimulatedBybitExchange, bybit_symbols
from tradestack.venues.simulated_coinbase import (
    CoinbaseSimConfig,
    SimulatedCoinbaseExchange,
    coinbase_symbols,
)
from tradestack.venues.simulated_kraken import KrakenSimConfig, SimulatedKrakenExchange, kraken_symbols
from tradestack.venues.simulated_okx.server import OkxSimConfig, SimulatedOkxExchange, okx_symbols

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


Simulator = (
    SimulatedExchange
    | SimulatedOkxExchange
    | SimulatedCoinbaseExchange
    | SimulatedBybitExchange
    | SimulatedKrakenExchange
    | SimulatedBinanceFuturesExchange
)


def simulator(venue: str) -> Simulator:
    flow = FlowConfig(interval_ms=50)
    if venue == "binance-coinm":
        coinm = SimConfig(symbols=coinm_symbols(), flow=flow, balances=COIN_MARGIN_BALANCES)
        return SimulatedBinanceFuturesExchange(FuturesSimConfig.coinm(coinm))
    if venue == "binance-futures":
        return SimulatedBinanceFuturesExchange(
            FuturesSimConfig(venue=SimConfig(symbols=futures_symbols(), flow=flow))
        )
    if venue == "okx":
        return SimulatedOkxExchange(OkxSimConfig(venue=SimConfig(symbols=okx_symbols(), flow=flow)))
    if venue == "bybit":
        return SimulatedBybitExchange(BybitSimConfig(venue=SimConfig(symbols=bybit_symbols(), flow=flow)))
    if venue == "kraken":
        return SimulatedKrakenExchange(KrakenSimConfig(venue=SimConfig(symbols=kraken_symbols(), flow=flow)))
    if venue == "coinbase":
        config = CoinbaseSimConfig(venue=SimConfig(symbols=coinbase_symbols(), flow=flow))
        return SimulatedCoinbaseExchange(config)
    return SimulatedExchange(SimConfig(flow=flow))


SYMBOLS = {
    "binance": ("BTCUSDT", "ETHUSDT"),
    "okx": ("BTC-USDT", "ETH-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
    "kraken": ("BTC/USDT", "ETH/USDT"),
    "binance-futures": ("BTCUSDT", "ETHUSDT"),
    "binance-coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "venue", ["binance", "okx", "coinbase", "bybit", "kraken", "binance-futures", "binance-coinm"]
)
async def test_the_connector_syncs_books_and_reports_them(tmp_path: Path, venue: str) -> None:
    sim = simulator(venue)
    await asyncio.wait_for(sim.start(), 10)
    split_urls = isinstance(sim, SimulatedOkxExchange | SimulatedBybitExchange | SimulatedKrakenExchange)
    ws_url = sim.public_ws_url if split_urls else sim.ws_url
    (tmp_path / "tradestack.yaml").write_text("http:\n  port: 0\n")
    urls = f"{{rest: '{sim.rest_url}', stream: '{ws_url}'}}"
    (tmp_path / "exchanges.yaml").write_text(f"venues:\n  {venue}: {urls}\n")
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradestack.cli", "connector", "--venue", venue,
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
        first, second = SYMBOLS[venue]
        assert f'trading_book_synced{{exchange="{venue}",symbol="{first}"}} 1.0' in text
        assert f'trading_market_data_age_seconds{{exchange="{venue}",symbol="{second}"}}' in text
        assert sim.open_orders() == []  # market data only: it never trades
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(sim.stop(), 10)
