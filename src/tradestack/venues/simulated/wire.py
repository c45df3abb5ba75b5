"""Binance's JSON shapes for orders, trades and user-stream events, numbers as 8-decimal strings.

Binance spot writes prices, quantities and balances padded to 8 decimals ("61737.63000000",
"0.00100000"); so does this module, from exact integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradestack.domain.events import Level
from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.venues.simulated.accounts import (
    ASSET_SCALE,
    AccountTrade,
    BalanceChange,
    Execution,
    OrderView,
)

Json = dict[str, Any]
ZERO = format_fixed(0, ASSET_SCALE)


class Wire:
    """Formats one venue's integers in Binance's decimal strings."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._price_factor: dict[str, int] = {
            s: 10 ** (ASSET_SCALE - i.price_scale) for s, i in instruments.items()
        }
        self._size_factor: dict[str, int] = {
            s: 10 ** (ASSET_SCALE - i.size_scale) for s, i in instruments.items()
        }
        self._report_sequence = 0

    def price(self, symbol: str, value: int) -> str:
        return format_fixed(value * self._price_factor[symbol], ASSET_SCALE)

    def qty(self, symbol: str, value: int) -> str:
        return format_fixed(value * self._size_factor[symbol], ASSET_SCALE)

    @staticmethod
    def asset(value: int) -> str:
        return format_fixed(value, ASSET_SCALE)

    def levels(self, symbol: str, levels: list[Level]) -> list[list[str]]:
        price, size = self._price_factor[symbol], self._size_factor[symbol]
        return [
            [format_fixed(p * price, ASSET_SCALE), format_fixed(q * size, ASSET_SCALE)] for p, q in levels
        ]

    # ---- REST ------------------------------------------------------------------------------------------

    def order_ack(self, order: OrderView, transact_ms: int) -> Json:
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": transact_ms,
        }

    def order_result(self, order: OrderView, transact_ms: int) -> Json:
        body = self.order_ack(order, transact_ms)
        body.update(self._order_fields(order))
        body["workingTime"] = order.working_time_ms
        body["selfTradePreventionMode"] = "NONE"
        return body

    def order_full(self, order: OrderView, transact_ms: int, fills: tuple[AccountTrade, ...]) -> Json:
        body = self.order_result(order, transact_ms)
        body["fills"] = [
            {
                "price": self.price(fill.symbol, fill.price),
                "qty": self.qty(fill.symbol, fill.quantity),
                "commission": self.asset(fill.commission),
                "commissionAsset": fill.commission_asset,
                "tradeId": fill.trade_id,
            }
            for fill in fills
        ]
        return body

    def order_query(self, order: OrderView) -> Json:
        body: Json = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
        }
        body.update(self._order_fields(order))
        body.update(
            {
                "stopPrice": ZERO,
                "icebergQty": ZERO,
                "time": order.time_ms,
                "updateTime": order.update_time_ms,
                "isWorking": order.is_working,
                "workingTime": order.working_time_ms,
                "origQuoteOrderQty": self.asset(order.quote_order_qty),
                "selfTradePreventionMode": "NONE",
            }
        )
        return body

    def canceled(self, order: OrderView, cancel_id: str, transact_ms: int) -> Json:
        body: Json = {
            "symbol": order.symbol,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_id,
            "transactTime": transact_ms,
        }
        body.update(self._order_fields(order))
        body["selfTradePreventionMode"] = "NONE"
        return body

    def _order_fields(self, order: OrderView) -> Json:
        symbol = order.symbol
        return {
            "price": self.price(symbol, order.price),
            "origQty": self.qty(symbol, order.quantity),
            "executedQty": self.qty(symbol, order.executed),
            "origQuoteOrderQty": self.asset(order.quote_order_qty),
            "cummulativeQuoteQty": self.asset(order.cumulative_quote),  # sic: Binance's spelling
            "status": order.status.value,
            "timeInForce": order.time_in_force,
            "type": order.order_type,
            "side": order.side.value,
        }

    def my_trade(self, trade: AccountTrade) -> Json:
        return {
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "orderListId": -1,
            "price": self.price(trade.symbol, trade.price),
            "qty": self.qty(trade.symbol, trade.quantity),
            "quoteQty": self.asset(trade.quote_quantity),
            "commission": self.asset(trade.commission),
            "commissionAsset": trade.commission_asset,
            "time": trade.time_ms,
            "isBuyer": trade.is_buyer,
            "isMaker": trade.is_maker,
            "isBestMatch": True,
        }

    # ---- user data stream ----------------------------------------------------------------------------

    def execution_report(self, event: Execution, event_ms: int) -> Json:
        order, trade = event.order, event.trade
        symbol = order.symbol
        canceled = event.execution_type == "CANCELED"
        self._report_sequence += 1
        body: Json = {
            "e": "executionReport",
            "E": event_ms,
            "s": symbol,
            "c": event.cancel_client_order_id if canceled else order.client_order_id,
            "S": order.side.value,
            "o": order.order_type,
            "f": order.time_in_force,
            "q": self.qty(symbol, order.quantity),
            "p": self.price(symbol, order.price),
            "P": ZERO,
            "F": ZERO,
            "g": -1,
            "C": order.client_order_id if canceled else "",
            "x": event.execution_type,
            "X": order.status.value,
            "r": "NONE",
            "i": order.order_id,
            "l": ZERO if trade is None else self.qty(symbol, trade.quantity),
            "z": self.qty(symbol, order.executed),
            "L": ZERO if trade is None else self.price(symbol, trade.price),
            "n": "0" if trade is None else self.asset(trade.commission),
            "N": None if trade is None else trade.commission_asset,
            "T": event.time_ms,
            "t": -1 if trade is None else trade.trade_id,
            "I": self._report_sequence,
            "w": order.is_working,
            "m": False if trade is None else trade.is_maker,
            "M": False,
            "O": order.time_ms,
            "Z": self.asset(order.cumulative_quote),
            "Y": ZERO if trade is None else self.asset(trade.quote_quantity),
            "Q": self.asset(order.quote_order_qty),
        }
        if order.order_type != "MARKET" and order.time_in_force == "GTC":
            body["W"] = order.working_time_ms  # "only visible if the order has been placed on the book"
        body["V"] = "NONE"
        return body

    def account_position(self, event: BalanceChange, event_ms: int) -> Json:
        return {
            "e": "outboundAccountPosition",
            "E": event_ms,
            "u": event.time_ms,
            "B": [{"a": b.asset, "f": self.asset(b.free), "l": self.asset(b.locked)} for b in event.balances],
        }
