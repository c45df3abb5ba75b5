"""The simulated venue's state, without I/O: one matching engine per symbol, the account, the flow's
entry points, and what every command tells the streams.

Synchronous: the REST handlers and the flow call it on the event loop thread, one command at a time, and
it hands market and user events to a Publisher (the stream hub) before returning.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.matching import (
    BookUpdate,
    CancelResult,
    MatchingEngine,
    OrderStatus,
    SubmitResult,
    TimeInForce,
    Trade,
)
from tradestack.ports import Clock
from tradestack.venues.simulated import errors
from tradestack.venues.simulated.accounts import (
    ASSET_SCALE,
    AccountOrder,
    AccountTrade,
    BalanceChange,
    Balances,
    Execution,
    OrderView,
    UserEvent,
)
from tradestack.venues.simulated.config import SimConfig, SymbolConfig

RATE_ONE: int = 10**ASSET_SCALE  # commission rates are kept as integers at 8 decimals ("0.001" -> 100000)
HISTORY_LIMIT = 100_000  # closed orders and trades remembered for queries
_POW10: tuple[int, ...] = tuple(10**i for i in range(ASSET_SCALE + 1))
_TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


class Publisher(Protocol):
    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None: ...

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None: ...

    def user_events(self, events: Sequence[UserEvent]) -> None: ...


class NullPublisher:
    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        pass

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        pass

    def user_events(self, events: Sequence[UserEvent]) -> None:
        pass


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A validated new-order request, in the instrument's integers."""

    symbol: str
    side: Side
    order_type: str  # LIMIT | LIMIT_MAKER | MARKET
    time_in_force: str  # GTC | IOC | FOK
    client_order_id: str
    quantity: int | None  # size units; None when a MARKET order is sized by quote_order_qty
    price: int | None = None  # price units; None for MARKET
    quote_order_qty: int | None = None  # quote at ASSET_SCALE


@dataclass(frozen=True, slots=True)
class Placed:
    order: OrderView
    fills: tuple[AccountTrade, ...]
    transact_time_ms: int


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """The filters the venue enforces, in the instrument's integers."""

    min_price: int
    max_price: int
    max_qty: int


class SimVenue:
    def __init__(self, config: SimConfig, clock: Clock, publisher: Publisher | None = None) -> None:
        # a fresh account per instance: a journal written against another instance is not this account's
        self.account_id = secrets.randbelow(2**31 - 1) + 1
        self.config = config
        self.clock = clock
        self.publisher: Publisher = publisher or NullPublisher()
        self.symbols: dict[str, SymbolConfig] = {s.symbol: s for s in config.symbols}
        self.instruments: dict[str, Instrument] = {s.symbol: s.instrument() for s in config.symbols}
        self.rules: dict[str, SymbolRules] = {}
        for spec in config.symbols:
            instrument = self.instruments[spec.symbol]
            if instrument.notional_scale > ASSET_SCALE:
                raise ValueError(f"{spec.symbol}: tick and step finer than {ASSET_SCALE} decimals in total")
            self.rules[spec.symbol] = SymbolRules(
                min_price=instrument.price(spec.min_price) if spec.min_price else instrument.tick,
                max_price=instrument.price(spec.max_price),
                max_qty=instrument.size(spec.max_qty),
            )
        self.engines = {symbol: MatchingEngine(symbol) for symbol in self.instruments}
        self.balances = Balances(
            (asset, parse_fixed(amount, ASSET_SCALE)) for asset, amount in config.balances
        )
        self.maker_rate = parse_fixed(config.maker_commission, ASSET_SCALE)
        self.taker_rate = parse_fixed(config.taker_commission, ASSET_SCALE)
        self._orders: dict[tuple[str, int], AccountOrder] = {}
        self._open: dict[str, dict[int, AccountOrder]] = {symbol: {} for symbol in self.instruments}
        self._open_client_ids: dict[str, tuple[str, int]] = {}
        self._latest_by_client_id: dict[str, tuple[str, int]] = {}
        self._accepted_by_client_id: dict[str, int] = {}
        self._closed: deque[tuple[str, int]] = deque()
        self._trades: deque[AccountTrade] = deque(maxlen=HISTORY_LIMIT)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    # ---- account commands --------------------------------------------------------------------------------

    def place(self, request: NewOrder) -> Placed:
        """Check, lock funds, match. Raises BinanceError for everything Binance rejects."""
        now = self.now_ms()
        symbol, side = request.symbol, request.side
        engine = self.engines[symbol]
        if request.client_order_id in self._open_client_ids:
            raise errors.duplicate_order()
        quantity = request.quantity
        if quantity is None:
            quantity = self._quantity_for_quote(symbol, side, request.quote_order_qty or 0)
        self._check_filters(request, quantity)
        if request.order_type == "LIMIT_MAKER":
            assert request.price is not None
            if engine.would_cross(side, request.price):
                raise errors.would_take()
        lock_asset, lock = self._lock_for(request, quantity)
        self.balances.lock(lock_asset, lock)

        if request.order_type == "MARKET":
            result = engine.submit_market(side, quantity)
        else:
            assert request.price is not None
            result = engine.submit_limit(
                side,
                request.price,
                quantity,
                _TIME_IN_FORCE[request.time_in_force],
                post_only=request.order_type == "LIMIT_MAKER",
            )
        assert result.order_id is not None, result.reject_reason  # filters ran first
        rests = request.order_type != "MARKET" and request.time_in_force == "GTC"
        view = OrderView(
            symbol=symbol,
            order_id=result.order_id,
            client_order_id=request.client_order_id,
            side=side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            price=request.price or 0,
            quantity=quantity,
            quote_order_qty=request.quote_order_qty or 0,
            executed=0,
            cumulative_quote=0,
            status=OrderStatus.NEW,
            time_ms=now,
            update_time_ms=now,
            working_time_ms=now,
            is_working=rests,
        )
        order = AccountOrder(view, lock_asset, lock)
        key = (symbol, result.order_id)
        self._orders[key] = order
        self._latest_by_client_id[request.client_order_id] = key
        self._accepted_by_client_id[request.client_order_id] = (
            self._accepted_by_client_id.get(request.client_order_id, 0) + 1
        )
        self.balances.update_time_ms = now
        events: list[UserEvent] = [Execution(view, "NEW", now)]
        self._balance_event(events, now)  # the lock the new order took, before any trade
        fills = []
        for trade in result.trades:
            fill = self._fill(order, trade, is_maker=False, now=now)
            fills.append(fill)
            events.append(Execution(order.view, "TRADE", now, fill))
            events.extend(self._maker_fill(symbol, trade, now))
        if result.resting:
            order.view = replace(order.view, is_working=True)
            self._open[symbol][result.order_id] = order
            self._open_client_ids[request.client_order_id] = key
        else:
            if result.canceled:
                order.view = replace(
                    order.view, status=OrderStatus.EXPIRED, update_time_ms=now, is_working=False
                )
                events.append(Execution(order.view, "EXPIRED", now))
            self._close(order)
        self._balance_event(events, now)
        self._publish(symbol, result.book_update, result.trades, events, now)
        return Placed(order.view, tuple(fills), now)

    def cancel(
        self, symbol: str, order_id: int | None, client_order_id: str | None, cancel_id: str
    ) -> OrderView:
        """Cancel one open order; -2011 if it is unknown or no longer open."""
        order = self._lookup(symbol, order_id, client_order_id)
        if order is None or not order.view.is_open:
            raise errors.unknown_order()
        now = self.now_ms()
        result = self.engines[symbol].cancel(order.view.order_id)
        events = self._canceled(order, cancel_id, now)
        self._publish(symbol, result.book_update, (), events, now)
        return order.view

    def cancel_all(self, symbol: str, cancel_id: str) -> list[OrderView]:
        """Cancel every open order on a symbol; -2011 if there is none (as Binance answers)."""
        orders = list(self._open[symbol].values())
        if not orders:
            raise errors.unknown_order()
        now = self.now_ms()
        engine = self.engines[symbol]
        views = []
        for order in orders:
            result = engine.cancel(order.view.order_id)
            events = self._canceled(order, cancel_id, now)
            self._publish(symbol, result.book_update, (), events, now)
            views.append(order.view)
        return views

    # ---- account queries ---------------------------------------------------------------------------------

    def find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> OrderView | None:
        order = self._lookup(symbol, order_id, client_order_id)
        return None if order is None else order.view

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        symbols = self._open if symbol is None else {symbol: self._open[symbol]}
        return [order.view for orders in symbols.values() for order in orders.values()]

    def order_by_client_id(self, client_order_id: str) -> OrderView | None:
        key = self._latest_by_client_id.get(client_order_id)
        return None if key is None else self._orders[key].view

    def accepted_count(self, client_order_id: str) -> int:
        return self._accepted_by_client_id.get(client_order_id, 0)

    def accepted_counts(self) -> dict[str, int]:
        return dict(self._accepted_by_client_id)

    def trades(self, symbol: str | None = None) -> list[AccountTrade]:
        return [trade for trade in self._trades if symbol is None or trade.symbol == symbol]

    # ---- the flow: other participants, no account ------------------------------------------------------

    def flow_limit(self, symbol: str, side: Side, price: int, size: int) -> SubmitResult:
        result = self.engines[symbol].submit_limit(side, price, size)
        self._after_flow(symbol, result.book_update, result.trades)
        return result

    def flow_market(self, symbol: str, side: Side, size: int) -> SubmitResult:
        result = self.engines[symbol].submit_market(side, size)
        self._after_flow(symbol, result.book_update, result.trades)
        return result

    def flow_cancel(self, symbol: str, order_id: int) -> CancelResult:
        result = self.engines[symbol].cancel(order_id)
        self._after_flow(symbol, result.book_update, ())
        return result

    def is_account_order(self, symbol: str, order_id: int) -> bool:
        return order_id in self._open[symbol]

    # ---- internals ---------------------------------------------------------------------------------------

    def _after_flow(self, symbol: str, update: BookUpdate | None, trades: Sequence[Trade]) -> None:
        now = self.now_ms()
        events: list[UserEvent] = []
        for trade in trades:
            events.extend(self._maker_fill(symbol, trade, now))
        self._balance_event(events, now)
        self._publish(symbol, update, trades, events, now)

    def _balance_event(self, events: list[UserEvent], now: int) -> None:
        changed = self.balances.take_changed()
        if changed:
            events.append(BalanceChange(now, changed))

    def _publish(
        self,
        symbol: str,
        update: BookUpdate | None,
        trades: Sequence[Trade],
        events: Sequence[UserEvent],
        now: int,
    ) -> None:
        if update is not None:
            self.publisher.book_updated(symbol, update, now)
        if trades:
            self.publisher.traded(symbol, trades, now)
        if events:
            self.publisher.user_events(events)

    def _maker_fill(self, symbol: str, trade: Trade, now: int) -> list[UserEvent]:
        maker = self._open[symbol].get(trade.maker_order_id)
        if maker is None:
            return []
        fill = self._fill(maker, trade, is_maker=True, now=now)
        event = Execution(maker.view, "TRADE", now, fill)
        if not trade.maker_remaining:
            del self._open[symbol][trade.maker_order_id]
            self._open_client_ids.pop(maker.view.client_order_id, None)
            self._close(maker)
        return [event]

    def _fill(self, order: AccountOrder, trade: Trade, *, is_maker: bool, now: int) -> AccountTrade:
        view = order.view
        instrument = self.instruments[view.symbol]
        quote = _to_asset(trade.price * trade.size, instrument.notional_scale)
        base = _to_asset(trade.size, instrument.size_scale)
        fee = quote * (self.maker_rate if is_maker else self.taker_rate) // RATE_ONE
        executed = view.executed + trade.size
        remaining = view.quantity - executed
        balances = self.balances
        if view.side is Side.BUY:
            balances.spend_locked(instrument.quote, quote + fee)
            order.locked -= quote + fee
            balances.credit(instrument.base, base)
            if view.order_type != "MARKET":  # keep only what the rest of the order needs locked
                excess = order.locked - self._buy_lock(instrument, view.price, remaining)
                if excess > 0:
                    balances.release(instrument.quote, excess)
                    order.locked -= excess
        else:
            balances.spend_locked(instrument.base, base)
            order.locked -= base
            balances.credit(instrument.quote, quote - fee)
        balances.update_time_ms = now
        order.view = replace(
            view,
            executed=executed,
            cumulative_quote=view.cumulative_quote + quote,
            status=OrderStatus.FILLED if not remaining else OrderStatus.PARTIALLY_FILLED,
            update_time_ms=now,
            is_working=bool(remaining) and view.is_working,
        )
        fill = AccountTrade(
            symbol=view.symbol,
            trade_id=trade.trade_id,
            order_id=view.order_id,
            price=trade.price,
            quantity=trade.size,
            quote_quantity=quote,
            commission=fee,
            commission_asset=instrument.quote,
            time_ms=now,
            is_buyer=view.side is Side.BUY,
            is_maker=is_maker,
        )
        self._trades.append(fill)
        return fill

    def _canceled(self, order: AccountOrder, cancel_id: str, now: int) -> list[UserEvent]:
        view = order.view
        del self._open[view.symbol][view.order_id]
        self._open_client_ids.pop(view.client_order_id, None)
        order.view = replace(view, status=OrderStatus.CANCELED, update_time_ms=now, is_working=False)
        self._close(order)
        self.balances.update_time_ms = now
        events: list[UserEvent] = [Execution(order.view, "CANCELED", now, cancel_client_order_id=cancel_id)]
        self._balance_event(events, now)
        return events

    def _close(self, order: AccountOrder) -> None:
        """The order is done: give back what it still holds, and remember it for a while."""
        if order.locked:
            self.balances.release(order.lock_asset, order.locked)
            order.locked = 0
        self._closed.append((order.view.symbol, order.view.order_id))
        while len(self._closed) > HISTORY_LIMIT:
            key = self._closed.popleft()
            forgotten = self._orders.pop(key)
            client_id = forgotten.view.client_order_id
            if self._latest_by_client_id.get(client_id) == key:
                del self._latest_by_client_id[client_id]

    def _lookup(self, symbol: str, order_id: int | None, client_order_id: str | None) -> AccountOrder | None:
        if order_id is not None:
            order = self._orders.get((symbol, order_id))
            if order is None or (
                client_order_id is not None and order.view.client_order_id != client_order_id
            ):
                return None
            return order
        if client_order_id is None:
            return None
        key = self._latest_by_client_id.get(client_order_id)
        if key is None or key[0] != symbol:
            return None
        return self._orders[key]

    def _check_filters(self, request: NewOrder, quantity: int) -> None:
        instrument, rules = self.instruments[request.symbol], self.rules[request.symbol]
        price = request.price
        if price is not None and (
            price < rules.min_price or price > rules.max_price or price % instrument.tick
        ):
            raise errors.filter_failure("PRICE_FILTER")
        if (
            quantity <= 0
            or quantity < instrument.min_size
            or quantity > rules.max_qty
            or quantity % instrument.lot
        ):
            raise errors.filter_failure("LOT_SIZE")
        reference = price
        if reference is None:  # MARKET: Binance uses an average price; the touch is close enough here
            engine = self.engines[request.symbol]
            best = engine.best_ask() if request.side is Side.BUY else engine.best_bid()
            reference = None if best is None else best[0]
        if reference is not None and reference * quantity < instrument.min_notional:
            raise errors.filter_failure("NOTIONAL")
        if len(self._open[request.symbol]) >= self.config.max_open_orders_per_symbol:
            raise errors.filter_failure("MAX_NUM_ORDERS")

    def _lock_for(self, request: NewOrder, quantity: int) -> tuple[str, int]:
        instrument = self.instruments[request.symbol]
        if request.side is Side.SELL:
            return instrument.base, _to_asset(quantity, instrument.size_scale)
        if request.price is not None:
            return instrument.quote, self._buy_lock(instrument, request.price, quantity)
        # MARKET buy: exactly what sweeping the asks for `quantity` costs now, plus the commission cap
        cost, left = 0, quantity
        for price, size in self.engines[request.symbol].asks():
            take = min(left, size)
            cost += _to_asset(price * take, instrument.notional_scale)
            left -= take
            if not left:
                break
        return instrument.quote, cost + self._fee_cap(cost)

    def _buy_lock(self, instrument: Instrument, price: int, quantity: int) -> int:
        cost = _to_asset(price * quantity, instrument.notional_scale)
        return cost + self._fee_cap(cost)

    def _fee_cap(self, quote: int) -> int:
        """The most commission `quote` can cost (rounded up), so a buy never pays more than it locked."""
        return -(-quote * max(self.maker_rate, self.taker_rate) // RATE_ONE)

    def _quantity_for_quote(self, symbol: str, side: Side, quote: int) -> int:
        """The quantity a MARKET order of `quote` (quoteOrderQty) buys or sells against the book now."""
        instrument = self.instruments[symbol]
        engine = self.engines[symbol]
        levels = engine.asks() if side is Side.BUY else engine.bids()
        quantity = 0
        for price, size in levels:
            lot_cost = _to_asset(price * instrument.lot, instrument.notional_scale)
            lots = min(quote // lot_cost, size // instrument.lot)
            quantity += lots * instrument.lot
            quote -= lots * lot_cost
            if lots * instrument.lot < size:
                break
        return quantity


def _to_asset(value: int, scale: int) -> int:
    """An amount at `scale` decimals -> ASSET_SCALE decimals (exact: scale <= ASSET_SCALE)."""
    return value * _POW10[ASSET_SCALE - scale]
