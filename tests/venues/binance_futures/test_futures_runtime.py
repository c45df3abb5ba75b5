"""The trading runtime on USD-M against the simulated futures exchange, stopped without cancelling
(a crash) and started again on the same journal: what filled while it was down is recovered from
userTrades once, and the signed positions agree with positionRisk (drift 0) on both runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import eventually
from tradestack.app.runtime import TradingRuntime
from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.config import Settings, load_settings
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.security.secrets import Secret
from tradestack.venues.simulated.config import FlowConfig, SimConfig
from tradestack.venues.simulated_binance_futures import (
    FuturesSimConfig,
    SimulatedBinanceFuturesExchange,
    futures_symbols,
)
from tradestack.venues.simulated_binance_futures.server import MARGIN_BALANCES

pytestmark = pytest.mark.timeout(60)


def futures_settings(data_dir: Path) -> Settings:
    data = load_settings(None).model_dump()
    data.update(venue="binance-futures", data_dir=str(data_dir))
    data["strategy"]["order_size"] = {"BTCUSDT": "0.002", "ETHUSDT": "0.01"}  # over MIN_NOTIONAL
    return Settings.model_validate(data)


def positions_at_venue(exchange: SimulatedBinanceFuturesExchange) -> dict[str, int]:
    return {
        f"{symbol}-PERP": exchange.position(symbol).amount * 10 ** (ASSET_SCALE - 3)  # lots of 0.001
        for symbol in ("BTCUSDT", "ETHUSDT")
    }


async def test_a_restart_recovers_missed_fills_once_and_keeps_drift_at_zero(tmp_path: Path) -> None:
    flow = FlowConfig(interval_ms=20, seed=5)
    config = FuturesSimConfig(venue=SimConfig(symbols=futures_symbols(), balances=MARGIN_BALANCES, flow=flow))
    async with SimulatedBinanceFuturesExchange(config) as exchange:
        api_key, secret = exchange.create_api_key(ip_whitelist=("127.0.0.1",))
        endpoints = Endpoints(exchange.rest_url, exchange.ws_url)
        credentials = Credentials(Secret(api_key), Secret(secret))
        settings = futures_settings(tmp_path)

        first = TradingRuntime(settings, endpoints, credentials, SystemClock(), http_port=0)
        await first.start()
        try:
            await eventually(lambda: len(exchange.trades()) >= 4, timeout=20)
        finally:
            await first.stop(cancel_open_orders=False)  # a crash: its quotes stay on the book
        at_stop = len(exchange.trades())
        assert exchange.open_orders(), "the crash left quotes resting"
        # the flow trades against what was left resting while nobody watches
        await eventually(lambda: len(exchange.trades()) > at_stop, timeout=20)

        while_down = len(exchange.trades()) - at_stop
        second = TradingRuntime(settings, endpoints, credentials, SystemClock(), http_port=0)
        await second.start()
        try:
            report = second.reconcile_report
            assert report is not None
            assert report.drift_percent == {"BTCUSDT": 0.0, "ETHUSDT": 0.0}
            ledger = second.engine.ledger.balances

            def agree() -> bool:  # it trades on meanwhile: pushed fills land a moment after the venue's
                venue_positions = positions_at_venue(exchange)
                ours = {asset: ledger.get(asset, 0) for asset in venue_positions}
                return ours == venue_positions and second.drift() == {"BTCUSDT": 0.0, "ETHUSDT": 0.0}

            await eventually(agree, timeout=10)
            # what filled while it was down was not pushed to anyone: reconciliation applied it
            assert report.fills_recovered >= while_down >= 1
        finally:
            await second.stop()
