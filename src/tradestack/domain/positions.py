"""Positions, PnL and drift, from fills alone. Exact integer arithmetic throughout.

Units: a position is in the instrument's size units; cost and PnL are in the instrument's notional units
(10**-(price_scale + size_scale) of the quote asset). Asset balances are kept at ASSET_SCALE decimals,
Binance's balance precision, so one quote asset shared by several symbols adds up exactly.

Inverse contracts (COIN-M) are valued in the coin: a fill of n contracts at price p is worth
contract_size x n / p coins, which is not a whole number of any decimal unit. Their cost and PnL are
kept in the coin at `instrument.pnl_scale` (INVERSE_PNL_SCALE, 18 decimals): each fill's coin value is
floored there (`Instrument.coin_value`, < 1e-18 coin lost per fill; the venue itself truncates at 8),
and from then on everything is exact integer arithmetic as for linear: `cost` is the signed coin value
at entry (+ long, - short), a partial close takes its floored share and the remainder stays in `cost`,
and a long realises entry value - exit value (a short the reverse), so PnL grows as the price falls
for a short and rises for a long, in coins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind, pow10

ASSET_SCALE = 8


@dataclass(frozen=True, slots=True)
class Fill:
    """One venue trade of one of our orders. (symbol, trade_id) identifies it at the venue; the id is
    the venue's own text (numbers at Binance, OKX and Coinbase; Kraken and Bybit send strings)."""

    symbol: str
    trade_id: str
    client_id: str
    side: Side
    price: int
    size: int
    fee: int  # in units of 10**-ASSET_SCALE of fee_asset
    fee_asset: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class TradeFloor:
    """The venue trades already in the balances a fresh journal started from, which are not ours to
    apply again: every one before the newest's venue time, and those at that very time by id."""

    ts_event: int
    ids: frozenset[str] = frozenset()
    up_to_id: int | None = None  # journals written before trade ids were text kept the highest id

    def covers(self, fill: Fill) -> bool:
        if self.up_to_id is not None:
            return fill.trade_id.isdigit() and int(fill.trade_id) <= self.up_to_id
        return fill.ts_event < self.ts_event or (fill.ts_event == self.ts_event and fill.trade_id in self.ids)

    @classmethod
    def of(cls, fills: list[Fill]) -> TradeFloor | None:
        if not fills:
            return None
        newest = max(fill.ts_event for fill in fills)
        return cls(newest, frozenset(fill.trade_id for fill in fills if fill.ts_event == newest))

    def encode(self) -> str:
        return json.dumps({"ts_event": self.ts_event, "ids": sorted(self.ids)})

    @classmethod
    def decode(cls, text: str) -> TradeFloor:
        data = json.loads(text)
        if isinstance(data, int):
            return cls(-1, up_to_id=data)
        return cls(int(data["ts_event"]), frozenset(str(i) for i in data["ids"]))


@dataclass(slots=True)
class Position:
    """Net position with average-cost accounting; the remainder of integer division stays in `cost`."""

    instrument: Instrument
    size: int = 0  # signed, size units
    cost: int = 0  # signed notional of the open position
    realized: int = 0  # notional units, fees in quote deducted
    fees: int = 0

    def apply(self, fill: Fill) -> None:
        if self.instrument.kind is InstrumentKind.INVERSE:
            self._apply_inverse(fill)
            return
        signed = fill.size * fill.side.sign
        notional = fill.price * fill.size * fill.side.sign
        if self.size == 0 or (self.size > 0) == (signed > 0):
            self.size += signed
            self.cost += notional
        else:
            closing = min(abs(signed), abs(self.size))
            # cost of the closed part, proportional to the open position's cost
            closed_cost = self.cost * closing // abs(self.size)
            self.realized += fill.price * closing * (1 if self.size > 0 else -1) - closed_cost
            self.cost -= closed_cost
            self.size += signed
            opening = abs(signed) - closing
            if self.size == 0:
                self.cost = 0
            if opening:
                self.cost = fill.price * opening * fill.side.sign
        if fill.fee_asset == self.instrument.quote:
            fee_notional = _rescale(fill.fee, ASSET_SCALE, self.instrument.notional_scale)
            self.realized -= fee_notional
            self.fees += fee_notional

    def unrealized(self, mark_price: int) -> int:
        if self.instrument.kind is InstrumentKind.INVERSE:
            return self.cost - self._coin_value(mark_price, self.size)
        return mark_price * self.size - self.cost

    def unrealized_at_mid(self, mid_x2: int) -> int:
        """Unrealised PnL marked at the mid, given as twice the mid (exact for a half-tick mid);
        floored, in the instrument's pnl_scale."""
        if self.instrument.kind is InstrumentKind.INVERSE:
            # the coin value at mid_x2 / 2 is 2 x contract_size x n / mid_x2
            return self.cost - self._coin_value(mid_x2, 2 * self.size)
        return (mid_x2 * self.size - 2 * self.cost) // 2

    def _apply_inverse(self, fill: Fill) -> None:
        signed = fill.size * fill.side.sign
        if self.size == 0 or (self.size > 0) == (signed > 0):
            self.size += signed
            self.cost += self._coin_value(fill.price, signed)
        else:
            closing = min(abs(signed), abs(self.size))
            direction = 1 if self.size > 0 else -1
            # the closed part's share of the entry value; the floor's remainder stays in `cost`
            closed_cost = self.cost * closing // abs(self.size)
            self.realized += closed_cost - self._coin_value(fill.price, closing * direction)
            self.cost -= closed_cost
            self.size += signed
            opening = abs(signed) - closing
            if self.size == 0:
                self.cost = 0
            if opening:
                self.cost = self._coin_value(fill.price, opening * fill.side.sign)
        if fill.fee_asset == self.instrument.quote:  # the coin
            fee = _rescale(fill.fee, ASSET_SCALE, self.instrument.pnl_scale)
            self.realized -= fee
            self.fees += fee

    def _coin_value(self, price: int, signed_size: int) -> int:
        """Signed coin value of `signed_size` contracts at `price`, the magnitude floored."""
        value = self.instrument.coin_value(price, abs(signed_size))
        return value if signed_size >= 0 else -value


def pnl_for_loss_limit(instrument: Instrument, pnl: int, mid_x2: int | None) -> int | None:
    """PnL in the `pnl_scale` of `instrument` as the daily loss limit counts it: quote units at
    ASSET_SCALE. An inverse contract's PnL in the coin is converted to the price currency (USD) at
    twice the mid `mid_x2`, floored (toward the larger loss); None when it has no mark to convert at.
    A scale finer than ASSET_SCALE is floored as well."""
    if instrument.kind is InstrumentKind.INVERSE:
        if mid_x2 is None:
            return None if pnl else 0
        return pnl * mid_x2 // (2 * pow10(instrument.pnl_scale + instrument.price_scale - ASSET_SCALE))
    scale = instrument.notional_scale
    if scale <= ASSET_SCALE:
        return pnl * pow10(ASSET_SCALE - scale)
    return pnl // pow10(scale - ASSET_SCALE)


class Ledger:
    """What we believe each asset's balance is: the venue's at reconciliation plus every fill since."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}

    def set_balance(self, asset: str, amount: int) -> None:
        self.balances[asset] = amount

    def apply(self, instrument: Instrument, fill: Fill) -> None:
        base = _rescale(fill.size, instrument.size_scale, ASSET_SCALE) * fill.side.sign
        if instrument.kind is InstrumentKind.SPOT:
            quote = _rescale(fill.price * fill.size, instrument.notional_scale, ASSET_SCALE) * fill.side.sign
        else:  # a contract: the venue settles realised PnL into the quote wallet, and reports it
            quote = 0
        self.balances[instrument.base] = self.balances.get(instrument.base, 0) + base
        self.balances[instrument.quote] = self.balances.get(instrument.quote, 0) - quote
        self.balances[fill.fee_asset] = self.balances.get(fill.fee_asset, 0) - fill.fee


def drift_percent(ours: int, venue: int) -> float:
    """|ours - venue| as a percentage of the venue's figure (100 when the venue says zero and we don't)."""
    if ours == venue:
        return 0.0
    if venue == 0:
        return 100.0
    return abs(ours - venue) * 100.0 / abs(venue)


def _rescale(value: int, from_scale: int, to_scale: int) -> int:
    if to_scale >= from_scale:
        return value * pow10(to_scale - from_scale)
    factor = pow10(from_scale - to_scale)
    if value % factor:
        raise ValueError(f"{value} at scale {from_scale} does not fit scale {to_scale}")
    return value // factor
