"""The shipped example: a two-sided market maker that skews its quotes against its inventory.

Quotes one bid and one ask around the mid. With inventory q and limit Q the fair price moves by
-skew * q / Q, so a long book quotes lower (sells more readily) and a short book quotes higher; at the
limit it stops quoting the side that would add to the position.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import Fill
from tradestack.engine.strategy import Context


@dataclass(frozen=True, slots=True)
class MarketMakerParams:
    half_spread_bps: int
    skew_bps_at_max_inventory: int
    requote_threshold_bps: int
    order_size: dict[str, int]  # size units per symbol
    max_inventory: dict[str, int]  # size units per symbol


class MarketMaker:
    def __init__(self, params: MarketMakerParams) -> None:
        self.params = params

    def on_book(self, ctx: Context, symbol: str, book: OrderBook) -> None:
        mid_x2 = book.mid_x2()
        if mid_x2 is None:
            return
        instrument = ctx.instrument(symbol)
        inventory = ctx.position(symbol)
        limit = self.params.max_inventory[symbol]
        size = self.params.order_size[symbol]
        # offsets in units of mid * 1e-4 / 2 (bps of twice the mid), all integer
        skew = -self.params.skew_bps_at_max_inventory * inventory * mid_x2 // max(limit, 1)
        center_x2_e4 = mid_x2 * 10_000 + skew
        half = self.params.half_spread_bps * mid_x2
        bid = instrument.round_price_down((center_x2_e4 - half) // 20_000)
        ask = instrument.round_price_up(-(-(center_x2_e4 + half) // 20_000))
        threshold = self.params.requote_threshold_bps * mid_x2 // 20_000
        for side, price, allowed in (
            (Side.BUY, bid, inventory + size <= limit),
            (Side.SELL, ask, inventory - size >= -limit),
        ):
            self._quote(ctx, symbol, side, price, size if allowed else 0, threshold)

    def _quote(self, ctx: Context, symbol: str, side: Side, price: int, size: int, threshold: int) -> None:
        mine = [order for order in ctx.live_orders(symbol) if order.side is side]
        keep = False
        for order in mine:
            if size and not keep and abs(order.price - price) <= threshold:
                keep = True  # close enough: keep our place in the queue
            else:
                ctx.cancel(order)
        if size and not keep and not mine:
            ctx.place(symbol, side, price, size)

    def on_trade(self, ctx: Context, trade: TradePrint) -> None:
        pass

    def on_order(self, ctx: Context, order: Order) -> None:
        pass

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        pass
