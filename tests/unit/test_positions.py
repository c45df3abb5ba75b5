"""Positions and PnL from fills, exactly."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.domain.positions import (
    ASSET_SCALE,
    Fill,
    Ledger,
    Position,
    drift_percent,
    pnl_for_loss_limit,
)

BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.00001")


def fill(side: Side, price: int, size: int, trade_id: int = 1, fee: int = 0) -> Fill:
    return Fill("BTCUSDT", str(trade_id), "c", side, price, size, fee, "USDT", 0)


def test_round_trip_realizes_the_price_difference() -> None:
    position = Position(BTC)
    position.apply(fill(Side.BUY, BTC.price("100.00"), BTC.size("0.5")))
    position.apply(fill(Side.SELL, BTC.price("110.00"), BTC.size("0.5")))
    assert position.size == 0
    assert position.realized == BTC.price("10.00") * BTC.size("0.5")  # 5 USDT in notional units


def test_flip_from_long_to_short_keeps_the_new_cost_basis() -> None:
    position = Position(BTC)
    position.apply(fill(Side.BUY, 10_000, 2))
    position.apply(fill(Side.SELL, 12_000, 3))
    assert position.size == -1
    assert position.cost == -12_000
    assert position.realized == 2 * 2_000


def test_quote_fees_reduce_realized_pnl() -> None:
    position = Position(BTC)
    position.apply(fill(Side.BUY, 10_000, 2, fee=150_000_000))  # 1.5 USDT at 8 decimals
    assert position.realized == -15_000_000  # 1.5 USDT at the notional scale 7


trades = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 10**8), st.integers(1, 10**6)),
    max_size=60,
)


@given(trades, st.integers(1, 10**8))
def test_position_is_the_sum_of_fills_and_pnl_is_conserved(
    fills: list[tuple[Side, int, int]], mark: int
) -> None:
    position = Position(BTC)
    cash = 0
    for side, price, size in fills:
        position.apply(fill(side, price, size))
        cash -= side.sign * price * size
    assert position.size == sum(side.sign * size for side, _, size in fills)
    # realized + unrealized equals cash + marked inventory, with no rounding lost anywhere
    assert position.realized + position.unrealized(mark) == cash + position.size * mark


def test_ledger_moves_both_assets_at_eight_decimals() -> None:
    ledger = Ledger()
    ledger.set_balance("USDT", 1000 * 10**8)
    ledger.apply(BTC, fill(Side.BUY, BTC.price("100.00"), BTC.size("0.5")))
    assert ledger.balances["BTC"] == 50_000_000
    assert ledger.balances["USDT"] == 950 * 10**8


PERP = replace(BTC, base="BTCUSDT-PERP", kind=InstrumentKind.LINEAR)


def test_a_linear_contract_moves_the_signed_position_and_only_fees_in_quote() -> None:
    ledger = Ledger()
    ledger.set_balance("USDT", 1000 * 10**8)
    ledger.apply(PERP, fill(Side.SELL, PERP.price("100.00"), PERP.size("0.5"), fee=2_000_000))
    assert ledger.balances["BTCUSDT-PERP"] == -50_000_000  # short half a contract: no coins involved
    assert ledger.balances["USDT"] == 1000 * 10**8 - 2_000_000  # the fee alone, not the notional
    ledger.apply(PERP, fill(Side.BUY, PERP.price("90.00"), PERP.size("0.5")))
    assert ledger.balances["BTCUSDT-PERP"] == 0


def test_an_inverse_contract_moves_contracts_and_the_coin_fee_only() -> None:
    coinm = Instrument.from_steps("binance-coinm", "BTCUSD_PERP", "BTCUSD_PERP", "BTC", "0.1", "1")
    coinm = replace(coinm, kind=InstrumentKind.INVERSE)
    ledger = Ledger()
    ledger.set_balance("BTC", 10**8)
    ledger.apply(coinm, Fill("BTCUSD_PERP", "1", "c", Side.BUY, coinm.price("60000"), 3, 2_500, "BTC", 0))
    assert ledger.balances == {"BTC": 10**8 - 2_500, "BTCUSD_PERP": 3 * 10**8}  # 3 contracts long


def test_the_position_of_a_linear_contract_keeps_pnl_as_spot_does() -> None:
    position = Position(PERP)
    position.apply(fill(Side.SELL, PERP.price("100.00"), PERP.size("0.5")))
    position.apply(fill(Side.BUY, PERP.price("90.00"), PERP.size("0.5")))
    assert (position.size, position.realized) == (0, PERP.price("10.00") * PERP.size("0.5"))


def test_drift_is_relative_to_the_venue() -> None:
    assert drift_percent(100, 100) == 0.0
    assert drift_percent(101, 100) == 1.0
    assert drift_percent(1, 0) == 100.0


# --- inverse contracts (COIN-M): n contracts of 100 USD at price p are worth 100 n / p BTC ---------

COINM = replace(
    Instrument.from_steps("binance-coinm", "BTCUSD_PERP", "BTCUSD_PERP", "BTC", "0.1", "1"),
    kind=InstrumentKind.INVERSE,
    contract_size=100,
)
COIN = 10**COINM.pnl_scale  # one BTC at the inverse PnL scale (18 decimals)


def coinm_fill(side: Side, price: str, contracts: int, fee: int = 0, fee_asset: str = "BTC") -> Fill:
    return Fill("BTCUSD_PERP", "1", "c", side, COINM.price(price), contracts, fee, fee_asset, 0)


def test_an_inverse_long_realises_entry_value_minus_exit_value_in_the_coin() -> None:
    position = Position(COINM)
    position.apply(coinm_fill(Side.BUY, "50000", 10))  # 1000 USD = 0.02 BTC at entry
    assert (position.size, position.cost) == (10, 2 * COIN // 100)
    position.apply(coinm_fill(Side.SELL, "40000", 10))  # worth 0.025 BTC at exit
    assert (position.size, position.cost) == (0, 0)
    assert position.realized == -5 * COIN // 1000  # a long loses 0.005 BTC as the price falls


def test_an_inverse_short_gains_coins_as_the_price_falls() -> None:
    position = Position(COINM)
    position.apply(coinm_fill(Side.SELL, "60000", 20))  # 2000 USD short
    position.apply(coinm_fill(Side.BUY, "50000", 5))  # buy 500 USD back
    entry = 33_333_333_333_333_333  # 2000 USD / 60000 = 0.0333... BTC, floored at 18 decimals
    closed = 8_333_333_333_333_334  # a quarter of it, the floor of the signed share (toward the short)
    assert position.realized == COIN // 100 - closed  # 500 USD x (1/50000 - 1/60000) BTC
    assert (position.size, position.cost) == (-15, -(entry - closed))  # the remainder stays in cost


def test_inverse_unrealised_pnl_is_marked_in_the_coin() -> None:
    position = Position(COINM)
    position.apply(coinm_fill(Side.BUY, "50000", 10))
    assert position.unrealized(COINM.price("40000")) == -5 * COIN // 1000
    assert position.unrealized(COINM.price("50000")) == 0
    assert position.unrealized_at_mid(2 * COINM.price("62500")) == 4 * COIN // 1000  # 0.02 - 0.016
    position.apply(coinm_fill(Side.SELL, "50000", 30))  # flip to 20 contracts short at 50000
    assert (position.size, position.cost) == (-20, -4 * COIN // 100)
    assert position.unrealized(COINM.price("40000")) == 1 * COIN // 100  # 0.05 - 0.04


def test_inverse_fees_in_the_coin_reduce_realised_pnl_at_its_scale() -> None:
    position = Position(COINM)
    position.apply(coinm_fill(Side.BUY, "50000", 10, fee=2_500))  # 0.000025 BTC at 8 decimals
    assert (position.realized, position.fees) == (-25 * COIN // 10**6, 25 * COIN // 10**6)
    position.apply(coinm_fill(Side.SELL, "50000", 10, fee=1, fee_asset="BNB"))  # not the coin: not PnL
    assert position.realized == -25 * COIN // 10**6


def test_an_inverse_position_needs_its_contract_size() -> None:
    position = Position(replace(COINM, contract_size=0))
    with pytest.raises(ValueError, match="contract_size"):
        position.apply(coinm_fill(Side.BUY, "50000", 1))


@given(trades, st.integers(1, 10**8))
def test_inverse_pnl_is_the_exact_coin_flow_within_one_unit_per_fill(
    fills: list[tuple[Side, int, int]], mark: int
) -> None:
    position = Position(COINM)
    # exact, in coins: a long gains its value at entry less its value at exit, 100 n / p each
    coins = Fraction(0)
    for side, price, size in fills:
        position.apply(Fill("BTCUSD_PERP", "1", "c", side, price, size, 0, "BTC", 0))
        coins += Fraction(side.sign * 100 * size * 10 ** (COINM.pnl_scale + COINM.price_scale), price)
    assert position.size == sum(side.sign * size for side, _, size in fills)
    exact = coins - Fraction(position.size * 100 * 10 ** (COINM.pnl_scale + COINM.price_scale), mark)
    # floors: each fill's value (twice on a flip), its closed share, and the mark's value: < 1 unit each
    assert abs(position.realized + position.unrealized(mark) - exact) <= 2 * len(fills) + 1


def test_pnl_for_the_loss_limit_converts_an_inverse_coin_pnl_at_the_mark() -> None:
    loss = -5 * COIN // 1000  # 0.005 BTC
    assert pnl_for_loss_limit(COINM, loss, 2 * COINM.price("40000")) == -200 * 10**ASSET_SCALE  # USD
    assert pnl_for_loss_limit(COINM, loss, None) is None  # no mark: cannot be valued
    assert pnl_for_loss_limit(COINM, 0, None) == 0
    assert pnl_for_loss_limit(COINM, -1, 2 * COINM.price("40000")) == -1  # floored toward the loss
    assert pnl_for_loss_limit(BTC, -15_000_000, None) == -150_000_000  # linear: notional scale 7 -> 8
