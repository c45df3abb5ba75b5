"""The futures account over the shared simulated venue: one-way positions, margin, PnL in the wallet.

The order book, matching, order records and the flow are the spot core's (simulated/venue.py); only the
settlement differs. A fill moves the symbol's signed position, not a base-asset balance; the margin
wallet moves by realised PnL and commission; an open order holds initial margin (its value / leverage,
plus the most commission it can cost) instead of the whole notional.

USD-M contracts are linear: valued price x size in the quote asset (USDT), PnL from the domain's
average-cost `Position`. COIN-M contracts are inverse: a contract is worth `contract_size` USD, valued
in the coin (contract_size x contracts / price, truncated to 8 decimals as the venue rounds), and PnL
is in the coin: long = value at entry - value at exit, short the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, pow10
from tradestack.domain.matching import OrderStatus, Trade
from tradestack.domain.positions import Fill, Position
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import (
    ASSET_SCALE,
    AccountOrder,
    AccountTrade,
    BalanceChange,
    UserEvent,
)
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.venue import RATE_ONE, NewOrder, SimVenue


@dataclass(frozen=True, slots=True)
class PositionView:
    """One symbol's one-way (BOTH) position: signed size in size units, entry price at ASSET_SCALE."""

    symbol: str
    amount: int
    entry_price: int
    update_time_ms: int


@dataclass(frozen=True, slots=True)
class AccountChange(BalanceChange):
    """ACCOUNT_UPDATE: the wallet balances and positions an event changed, after it."""

    positions: tuple[PositionView, ...] = ()


class LinearSettlement:
    """USD-M: value and PnL in the quote asset."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.asset = instrument.quote
        self.held = Position(instrument)

    @property
    def size(self) -> int:
        return self.held.size

    def value(self, price: int, size: int) -> int:
        return price * size * pow10(ASSET_SCALE - self.instrument.notional_scale)

    def apply(self, side: Side, price: int, size: int) -> int:
        """Move the position; the realised PnL at ASSET_SCALE. The fee is the wallet's business."""
        before = self.held.realized
        self.held.apply(Fill(self.instrument.symbol, "", "", side, price, size, 0, "", 0))
        return (self.held.realized - before) * pow10(ASSET_SCALE - self.instrument.notional_scale)

    def entry_price(self) -> int:
        if not self.held.size:
            return 0
        return self.held.cost * pow10(ASSET_SCALE - self.instrument.price_scale) // self.held.size

    def unrealized(self, mark: int) -> int:
        return self.held.unrealized(mark) * pow10(ASSET_SCALE - self.instrument.notional_scale)


class InverseSettlement:
    """COIN-M: contracts worth `contract_size` USD each, value and PnL in the coin (`asset`)."""

    def __init__(self, instrument: Instrument, contract_size: int, coin: str) -> None:
        self.instrument = instrument
        self.contract_size = contract_size
        self.asset = coin
        self.size = 0  # signed contracts, size units
        self.entry_value = 0  # coin value of the open position at entry, ASSET_SCALE, >= 0

    def value(self, price: int, size: int) -> int:
        """contract_size x contracts / price, in the coin at ASSET_SCALE (truncated)."""
        if price <= 0:
            return 0
        scale = ASSET_SCALE + self.instrument.price_scale - self.instrument.size_scale
        return self.contract_size * size * pow10(scale) // price

    def apply(self, side: Side, price: int, size: int) -> int:
        signed = size * side.sign
        realized = 0
        if self.size and (self.size > 0) != (signed > 0):
            closing = min(size, abs(self.size))
            closed_entry = self.entry_value * closing // abs(self.size)
            exit_value = self.value(price, closing)
            realized = closed_entry - exit_value if self.size > 0 else exit_value - closed_entry
            self.entry_value -= closed_entry
            self.size += closing * side.sign
            size -= closing
            if not self.size:
                self.entry_value = 0
        if size:
            self.size += size * side.sign
            self.entry_value += self.value(price, size)
        return realized

    def entry_price(self) -> int:
        """contract_size x contracts / entry value, at ASSET_SCALE."""
        if not self.size or not self.entry_value:
            return 0
        contracts = abs(self.size) * pow10(ASSET_SCALE - self.instrument.size_scale)
        return self.contract_size * contracts * pow10(ASSET_SCALE) // self.entry_value

    def unrealized(self, mark: int) -> int:
        now = self.value(mark, abs(self.size))
        return self.entry_value - now if self.size > 0 else now - self.entry_value


Settlement = LinearSettlement | InverseSettlement


class FuturesSimVenue(SimVenue):
    def __init__(
        self,
        config: SimConfig,
        clock: Clock,
        leverage: int = 20,
        contract_sizes: Mapping[str, int] | None = None,  # inverse symbols -> USD per contract
    ) -> None:
        super().__init__(config, clock)
        self.leverage = leverage
        inverse = contract_sizes or {}
        self.settlements: dict[str, Settlement] = {
            symbol: InverseSettlement(inst, inverse[symbol], self.symbols[symbol].base)
            if symbol in inverse
            else LinearSettlement(inst)
            for symbol, inst in self.instruments.items()
        }
        self.position_time_ms = dict.fromkeys(self.instruments, 0)
        self.realized: dict[tuple[str, int], int] = {}  # (symbol, trade id) -> realised PnL, ASSET_SCALE
        self._moved: dict[str, None] = {}

    def position(self, symbol: str) -> PositionView:
        held = self.settlements[symbol]
        return PositionView(symbol, held.size, held.entry_price(), self.position_time_ms[symbol])

    # ---- settlement, overriding the spot core's ---------------------------------------------------------

    def _lock_for(self, request: NewOrder, quantity: int) -> tuple[str, int]:
        price = request.price
        if price is None:  # MARKET: margin at the far touch it will take
            engine = self.engines[request.symbol]
            best = engine.best_ask() if request.side is Side.BUY else engine.best_bid()
            price = 0 if best is None else best[0]
        settlement = self.settlements[request.symbol]
        return settlement.asset, self._margin(settlement, price, quantity)

    def _margin(self, settlement: Settlement, price: int, quantity: int) -> int:
        value = settlement.value(price, quantity)
        return -(-value // self.leverage) + self._fee_cap(value)

    def _fill(self, order: AccountOrder, trade: Trade, *, is_maker: bool, now: int) -> AccountTrade:
        view = order.view
        symbol = view.symbol
        settlement = self.settlements[symbol]
        value = settlement.value(trade.price, trade.size)
        fee = value * (self.maker_rate if is_maker else self.taker_rate) // RATE_ONE
        realized = settlement.apply(view.side, trade.price, trade.size)
        self.balances.credit(settlement.asset, realized - fee)
        executed = view.executed + trade.size
        remaining = view.quantity - executed
        keep = self._margin(settlement, view.price, remaining) if view.order_type != "MARKET" else 0
        if order.locked > keep:  # the filled part's order margin becomes position margin (not modelled)
            self.balances.release(settlement.asset, order.locked - keep)
            order.locked = keep
        self.balances.update_time_ms = now
        self.position_time_ms[symbol] = now
        self._moved[symbol] = None
        order.view = replace(
            view,
            executed=executed,
            cumulative_quote=view.cumulative_quote + value,
            status=OrderStatus.FILLED if not remaining else OrderStatus.PARTIALLY_FILLED,
            update_time_ms=now,
            is_working=bool(remaining) and view.is_working,
        )
        fill = AccountTrade(
            symbol=symbol,
            trade_id=trade.trade_id,
            order_id=view.order_id,
            price=trade.price,
            quantity=trade.size,
            quote_quantity=value,  # the margin asset's value: USDT on USD-M, the coin on COIN-M
            commission=fee,
            commission_asset=settlement.asset,
            time_ms=now,
            is_buyer=view.side is Side.BUY,
            is_maker=is_maker,
        )
        self.realized[(symbol, trade.trade_id)] = realized
        self._trades.append(fill)
        return fill

    def _balance_event(self, events: list[UserEvent], now: int) -> None:
        changed = self.balances.take_changed()
        moved = tuple(self.position(symbol) for symbol in self._moved)
        self._moved.clear()
        if changed or moved:
            events.append(AccountChange(now, changed, moved))
