"""COIN-M (/dapi, inverse contracts) through the same client against the simulator's COIN-M dialect:
sizes in contracts, fees and PnL in the coin, positions signed in contracts, streams equal to REST."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import eventually
from tradestack.domain.events import Side
from tradestack.domain.instruments import InstrumentKind
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.ports import SystemClock
from tradestack.venues._shared.ws_session import SessionState
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance_futures.user_stream import BinanceFuturesUserStream
from venues.binance_futures.futures_rig import coinm_config, futures_rig

pytestmark = pytest.mark.timeout(30)

BTC = "BTCUSD_PERP"
COIN = 10**ASSET_SCALE


async def test_a_coinm_contract_is_inverse_sized_in_contracts_and_margined_in_the_coin() -> None:
    async with futures_rig(coinm_config()) as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.kind) == ("BTCUSD_PERP", "BTC", InstrumentKind.INVERSE)
        assert (btc.price_scale, btc.size_scale, btc.lot, btc.min_size) == (1, 0, 1, 1)
        assert rig.trading.name == "binance-coinm"
        info = await rig.gateway.futures_exchange_info()
        assert {s.symbol: s.contract_size for s in info.symbols} == {"BTCUSD_PERP": 100, "ETHUSD_PERP": 10}


async def test_fills_pay_fees_and_pnl_in_the_coin_and_the_position_is_in_contracts() -> None:
    async with futures_rig(coinm_config()) as rig:
        trading, venue = rig.trading, rig.exchange.venue
        btc = rig.instruments[BTC]
        # short 20 contracts (2000 USD) at 60000 as maker, in two pieces
        await trading.submit_now(Order("cm-1-1", BTC, Side.SELL, btc.price("60000.0"), 20))
        venue.flow_market(BTC, Side.BUY, 15)
        venue.flow_market(BTC, Side.BUY, 5)
        # buy 5 back as taker at 50000: 500 USD x (1/50000 - 1/60000) BTC realised
        venue.flow_limit(BTC, Side.SELL, btc.price("50000.0"), 100)
        report = await trading.submit_now(Order("cm-1-2", BTC, Side.BUY, btc.price("50000.0"), 5))
        assert report.venue_order_id is not None

        fills = [fill for fill, _ in await trading.fills(BTC, None)]
        assert [(f.side, f.size) for f in fills] == [(Side.SELL, 15), (Side.SELL, 5), (Side.BUY, 5)]
        assert {f.fee_asset for f in fills} == {"BTC"}
        assert fills[0].fee == 500  # 2 bps of 1500 USD / 60000 = 0.025 BTC
        assert fills[2].fee == 500  # 5 bps of 500 USD / 50000 = 0.01 BTC
        balances = await trading.balances()
        assert balances["BTCUSD_PERP"] == -15 * COIN  # 15 contracts short
        assert balances["ETHUSD_PERP"] == 0
        realised = 1_000_000 - 833_333  # 0.01 BTC at exit against 0.00833333 at entry
        assert balances["BTC"] == 10 * COIN + realised - sum(f.fee for f in fills)
        risk = await rig.gateway.position_risk(BTC)
        assert (risk[0].position_amt, risk[0].entry_price) == ("-15", "60000.00000000")

        resting = Order("cm-1-3", BTC, Side.BUY, btc.price("40000.0"), 1)
        await trading.submit_now(resting)
        assert (await trading.cancel(resting)).status is OrderStatus.CANCELED


async def test_pushed_fills_and_positions_equal_rest_on_coinm() -> None:
    async with futures_rig(coinm_config()) as rig:
        pushed: list[Fill] = []
        totals: dict[str, int] = {}

        def on_balances(event: Balances) -> None:
            totals.update(event.totals)

        stream = BinanceFuturesUserStream(
            rig.exchange.ws_url,
            rig.gateway,
            rig.instruments,
            SystemClock(),
            lambda report, ts: pushed.extend([report.fill] if report.fill is not None else []),
            on_balances,
            lambda: None,
        )
        await stream.start()
        session = stream.session
        assert session is not None
        try:
            await eventually(lambda: session.state is SessionState.RUNNING)
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(Order("cp-1-1", BTC, Side.BUY, btc.price("60000.0"), 7))
            rig.exchange.venue.flow_market(BTC, Side.SELL, 7)
            await eventually(lambda: len(pushed) == 1 and totals.get("BTCUSD_PERP") == 7 * COIN)
            rest = await rig.trading.fills(BTC, None)
            assert [replace(fill, client_id="cp-1-1") for fill, _ in rest] == pushed
            assert [r.position_amt for r in await rig.gateway.position_risk(BTC)] == ["7"]
            assert totals["BTC"] == (await rig.trading.balances())["BTC"]
        finally:
            await stream.stop()
