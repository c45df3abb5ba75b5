"""Positions and PnL from fills, exactly."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.domain.positions import Fill, Ledger, Position, drift_percent

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
