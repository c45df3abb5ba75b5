"""The USD-M user-stream parser on frames shaped as Binance documents them: pure, bytes in, values out."""

from __future__ import annotations

import pytest

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.venues.binance.user_messages import Balances, UserStreamParseError
from tradestack.venues.binance_futures.rest_gateway import FuturesFilter, FuturesSymbol, position_asset
from tradestack.venues.binance_futures.user_messages import FuturesUserStreamParser

BTC = FuturesSymbol(
    symbol="BTCUSDT",
    status="TRADING",
    base_asset="BTC",
    quote_asset="USDT",
    margin_asset="USDT",
    contract_type="PERPETUAL",
    filters=[
        FuturesFilter("PRICE_FILTER", tick_size="0.10"),
        FuturesFilter("LOT_SIZE", step_size="0.001", min_qty="0.001"),
        FuturesFilter("MIN_NOTIONAL", notional="100"),
    ],
).instrument("binance-futures")
PARSER = FuturesUserStreamParser({"BTCUSDT": BTC})

TRADE = (
    b'{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT","c":"ts1-2-3",'
    b'"S":"SELL","o":"LIMIT","f":"GTX","q":"0.020","p":"60000.10","ap":"60000.10","sp":"0","x":"TRADE",'
    b'"X":"PARTIALLY_FILLED","i":8886774,"l":"0.005","z":"0.005","L":"60000.10","N":"USDT","n":"0.06000010",'
    b'"T":1568879465650,"t":109100866,"b":"0","a":"1200.0","m":true,"R":false,"wt":"CONTRACT_PRICE",'
    b'"ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,"si":0,"ss":0,"V":"NONE","pm":"NONE","gtd":0}}'
)
ACCOUNT = (
    b'{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,"a":{"m":"ORDER",'
    b'"B":[{"a":"USDT","wb":"122624.12345678","cw":"100.12345678","bc":"50.12345678"}],'
    b'"P":[{"s":"BTCUSDT","pa":"-0.005","ep":"60000.10","bep":"60000.1","cr":"200","up":"0","mt":"cross",'
    b'"iw":"0","ps":"BOTH"},{"s":"ETHUSDT","pa":"1.000","ep":"3000","cr":"0","up":"0","mt":"cross",'
    b'"iw":"0","ps":"BOTH"}]}}'
)


def test_the_instrument_is_the_contract_and_its_base_the_position() -> None:
    assert isinstance(BTC, Instrument)
    assert (BTC.base, BTC.quote, BTC.kind) == ("BTCUSDT-PERP", "USDT", InstrumentKind.LINEAR)
    assert (BTC.price_scale, BTC.size_scale, BTC.min_notional) == (1, 3, 100_0000)


def test_a_position_is_named_for_its_contract() -> None:
    assert position_asset("BTCUSDT", "PERPETUAL") == "BTCUSDT-PERP"  # not the coin BTC nor the pair
    assert position_asset("BTCUSDT_250627", "CURRENT_QUARTER") == "BTCUSDT_250627"
    assert position_asset("BTCUSD_PERP", "PERPETUAL") == "BTCUSD_PERP"  # COIN-M names are unique


def test_a_trade_update_is_a_report_with_its_fill() -> None:
    report = PARSER.parse(TRADE)
    assert report is not None and not isinstance(report, Balances)
    assert (report.client_id, report.status, report.venue_order_id) == (
        "ts1-2-3",
        OrderStatus.PARTIALLY_FILLED,
        8886774,
    )
    assert report.filled_total == BTC.size("0.005")
    fill = report.fill
    assert fill is not None
    assert (fill.trade_id, fill.side, fill.price, fill.size) == (
        "109100866",
        Side.SELL,
        BTC.price("60000.1"),
        BTC.size("0.005"),
    )
    assert (fill.fee, fill.fee_asset, fill.ts_event) == (6_000_010, "USDT", 1568879465650 * 1_000_000)


def test_a_new_or_canceled_update_carries_no_fill() -> None:
    canceled = TRADE.replace(b'"x":"TRADE"', b'"x":"CANCELED"').replace(
        b'"X":"PARTIALLY_FILLED"', b'"X":"CANCELED"'
    )
    report = PARSER.parse(canceled)
    assert report is not None and not isinstance(report, Balances)
    assert (report.status, report.fill, report.client_id) == (OrderStatus.CANCELED, None, "ts1-2-3")


def test_an_account_update_gives_wallets_and_signed_positions_of_traded_contracts() -> None:
    balances = PARSER.parse(ACCOUNT)
    assert isinstance(balances, Balances)
    assert balances.totals == {"USDT": 12_262_412_345_678, "BTCUSDT-PERP": -5 * 10**ASSET_SCALE // 1000}
    assert balances.ts_event == 1564745798939 * 1_000_000


def test_other_events_and_other_symbols_are_ignored() -> None:
    assert PARSER.parse(b'{"e":"listenKeyExpired","E":1576653824250,"listenKey":"abc"}') is None
    assert PARSER.parse(TRADE.replace(b'"s":"BTCUSDT"', b'"s":"SOLUSDT"')) is None


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        TRADE.replace(b'"L":"60000.10"', b'"L":"6e4"'),
        TRADE.replace(b'"l":"0.005"', b'"l":"0"'),
        TRADE.replace(b'"X":"PARTIALLY_FILLED"', b'"X":"NOT_A_STATUS"'),
        ACCOUNT.replace(b'"pa":"-0.005"', b'"pa":"--1"'),
    ],
)
def test_a_malformed_frame_raises_the_one_parse_error(frame: bytes) -> None:
    with pytest.raises(UserStreamParseError):
        PARSER.parse(frame)
