"""The strategy API: four callbacks and a context through which every order passes risk."""

from __future__ import annotations

from typing import Protocol

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import Fill


class Context(Protocol):
    def instrument(self, symbol: str) -> Instrument: ...

    def position(self, symbol: str) -> int: ...

    def live_orders(self, symbol: str) -> list[Order]: ...

    def place(self, symbol: str, side: Side, price: int, size: int) -> Order | None:
        """Send a limit order if risk accepts it; None when rejected (the reason is counted)."""
        ...

    def cancel(self, order: Order) -> None: ...


class Strategy(Protocol):
    def on_book(self, ctx: Context, symbol: str, book: OrderBook) -> None: ...

    def on_trade(self, ctx: Context, trade: TradePrint) -> None: ...

    def on_order(self, ctx: Context, order: Order) -> None: ...

    def on_fill(self, ctx: Context, fill: Fill) -> None: ...
