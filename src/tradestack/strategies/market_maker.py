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
    """Spreads in hundredths of a basis point (500 = 5 bps), so fractional settings stay exact."""

    half_spread_bps_e2: int
    skew_bps_e2_at_max_inventory: int
    requote_threshold_bps_e2: int
    order_size: dict[str, int]  # size units per symbol
    max_inventory: dict[str, int]  # size units per symbol


_SCALE = 2_000_000


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
        # prices scaled by 2e6 (twice the mid, in millionths) so every step stays an integer
        skew = -self.params.skew_bps_e2_at_max_inventory * inventory * mid_x2 // max(limit, 1)
        center = mid_x2 * 1_000_000 + skew
        half = self.params.half_spread_bps_e2 * mid_x2
        bid = instrument.round_price_down((center - half) // _SCALE)
        ask = instrument.round_price_up(-(-(center + half) // _SCALE))
        threshold = self.params.requote_threshold_bps_e2 * mid_x2 // _SCALE
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
