"""Positions, PnL and drift, from fills alone. Exact integer arithmetic throughout.

Units: a position is in the instrument's size units; cost and PnL are in the instrument's notional units
(10**-(price_scale + size_scale) of the quote asset). Asset balances are kept at ASSET_SCALE decimals,
Binance's balance precision, so one quote asset shared by several symbols adds up exactly.
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
        return mark_price * self.size - self.cost


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
