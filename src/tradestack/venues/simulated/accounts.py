"""The sim's account: balances (free and locked), its orders and its trades, and what changed.

All asset amounts are integers at ASSET_SCALE (8) decimals, as Binance reports balances; prices and
sizes of orders are in the instrument's units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradestack.domain.events import Side
from tradestack.domain.matching import OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.venues.simulated import errors

__all__ = ["ASSET_SCALE"]


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: int  # units of 10**-8
    locked: int


class Balances:
    """Free and locked amount per asset. Remembers which assets changed for outboundAccountPosition."""

    def __init__(self, initial: Iterable[tuple[str, int]]) -> None:
        self._free: dict[str, int] = {}
        self._locked: dict[str, int] = {}
        for asset, amount in initial:
            self._free[asset] = amount
            self._locked[asset] = 0
        self._changed: dict[str, None] = {}
        self.update_time_ms = 0

    def free(self, asset: str) -> int:
        return self._free.get(asset, 0)

    def locked(self, asset: str) -> int:
        return self._locked.get(asset, 0)

    def lock(self, asset: str, amount: int) -> None:
        if amount > self.free(asset):
            raise errors.insufficient_balance()
        self._move(asset, -amount, amount)

    def release(self, asset: str, amount: int) -> None:
        self._move(asset, amount, -amount)

    def spend_locked(self, asset: str, amount: int) -> None:
        self._move(asset, 0, -amount)

    def credit(self, asset: str, amount: int) -> None:
        self._move(asset, amount, 0)

    def snapshot(self) -> dict[str, Balance]:
        return {asset: Balance(asset, self._free[asset], self._locked[asset]) for asset in sorted(self._free)}

    def take_changed(self) -> tuple[Balance, ...]:
        changed = tuple(Balance(a, self._free[a], self._locked[a]) for a in self._changed)
        self._changed.clear()
        return changed

    def _move(self, asset: str, free: int, locked: int) -> None:
        if not free and not locked:
            return
        self._free[asset] = self._free.get(asset, 0) + free
        self._locked[asset] = self._locked.get(asset, 0) + locked
        if self._free[asset] < 0 or self._locked[asset] < 0:
            raise AssertionError(f"negative {asset} balance: accounting bug")  # never expected
        self._changed[asset] = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """One account order as the venue knows it (Binance's order fields, in exact integers)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    order_type: str  # LIMIT | LIMIT_MAKER | MARKET
    time_in_force: str  # GTC | IOC | FOK (MARKET and LIMIT_MAKER report GTC, as Binance does)
    price: int  # price units; 0 for MARKET
    quantity: int  # size units
    quote_order_qty: int  # quote at ASSET_SCALE; 0 unless a MARKET order was sized by quoteOrderQty
    executed: int  # size units
    cumulative_quote: int  # quote at ASSET_SCALE
    status: OrderStatus
    time_ms: int
    update_time_ms: int
    working_time_ms: int
    is_working: bool  # on the book

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(slots=True)
class AccountOrder:
    """The mutable record behind an OrderView, plus the funds it holds locked."""

    view: OrderView
    lock_asset: str
    locked: int = 0  # at ASSET_SCALE


@dataclass(frozen=True, slots=True)
class AccountTrade:
    """One fill of an account order (GET /api/v3/myTrades, executionReport TRADE)."""

    symbol: str
    trade_id: int
    order_id: int
    price: int  # price units
    quantity: int  # size units
    quote_quantity: int  # ASSET_SCALE
    commission: int  # ASSET_SCALE, in commission_asset
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool


@dataclass(frozen=True, slots=True)
class Execution:
    """One executionReport: the order after the event, and the trade for TRADE events."""

    order: OrderView
    execution_type: str  # NEW | TRADE | CANCELED | EXPIRED
    time_ms: int
    trade: AccountTrade | None = None
    cancel_client_order_id: str = ""  # a cancel's own id: Binance puts it in `c`, the original in `C`


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One outboundAccountPosition: the assets an event changed, after it."""

    time_ms: int
    balances: tuple[Balance, ...]


UserEvent = Execution | BalanceChange
