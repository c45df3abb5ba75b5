"""Binance futures JSON shapes (USD-M fapi/fstream, COIN-M dapi/dstream) from the sim's integers.

Futures write prices and quantities at the symbol's own precision ("60000.10", "0.010"; COIN-M
quantities are whole contracts), balances and PnL at 8 decimals. A post-only order travels as LIMIT
with timeInForce GTX. COIN-M names the margin-asset value `cumBase`/`baseQty` where USD-M says
`cumQuote`/`quoteQty`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.venues.simulated.accounts import ASSET_SCALE, AccountTrade, Execution, OrderView
from tradestack.venues.simulated.wire import Json
from tradestack.venues.simulated_binance_futures.venue import AccountChange, PositionView


def asset(value: int) -> str:
    return format_fixed(value, ASSET_SCALE)


class FuturesWire:
    def __init__(self, instruments: Mapping[str, Instrument], contract_sizes: Mapping[str, int]) -> None:
        self.instruments = instruments
        self.contract_sizes = contract_sizes  # the inverse (COIN-M) symbols

    def price(self, symbol: str, value: int) -> str:
        return self.instruments[symbol].price_text(value)

    def qty(self, symbol: str, value: int) -> str:
        return self.instruments[symbol].size_text(value)

    def levels(self, symbol: str, levels: list[tuple[int, int]]) -> list[list[str]]:
        instrument = self.instruments[symbol]
        return [[instrument.price_text(p), instrument.size_text(q)] for p, q in levels]

    def average_price(self, order: OrderView) -> str:
        if not order.executed or not order.cumulative_quote:
            return "0"
        instrument = self.instruments[order.symbol]
        contract_size = self.contract_sizes.get(order.symbol)
        if contract_size is not None:  # contracts x size / coin value
            contracts = order.executed * 10 ** (ASSET_SCALE - instrument.size_scale)
            return asset(contract_size * contracts * 10**ASSET_SCALE // order.cumulative_quote)
        # cumulative quote (8 decimals) / executed size -> price at 8 decimals, truncated
        return asset(order.cumulative_quote * 10**instrument.size_scale // order.executed)

    def _value_field(self, symbol: str, linear: str, inverse: str) -> str:
        return inverse if symbol in self.contract_sizes else linear

    def order(self, order: OrderView, reduce_only: bool = False) -> Json:
        """POST /fapi/v1/order, GET /fapi/v1/order, openOrders entries and DELETE answers."""
        symbol = order.symbol
        order_type, time_in_force = _type_and_tif(order)
        return {
            "orderId": order.order_id,
            "symbol": symbol,
            "status": order.status.value,
            "clientOrderId": order.client_order_id,
            "price": self.price(symbol, order.price),
            "avgPrice": self.average_price(order),
            "origQty": self.qty(symbol, order.quantity),
            "executedQty": self.qty(symbol, order.executed),
            "cumQty": self.qty(symbol, order.executed),
            self._value_field(symbol, "cumQuote", "cumBase"): asset(order.cumulative_quote),
            "timeInForce": time_in_force,
            "type": order_type,
            "origType": order_type,
            "reduceOnly": reduce_only,
            "closePosition": False,
            "side": order.side.value,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": order.time_ms,
            "updateTime": order.update_time_ms,
        }

    def user_trade(self, trade: AccountTrade, realized: int) -> Json:
        """GET /fapi/v1/userTrades."""
        return {
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "side": "BUY" if trade.is_buyer else "SELL",
            "price": self.price(trade.symbol, trade.price),
            "qty": self.qty(trade.symbol, trade.quantity),
            "realizedPnl": asset(realized),
            self._value_field(trade.symbol, "quoteQty", "baseQty"): asset(trade.quote_quantity),
            "commission": asset(trade.commission),
            "commissionAsset": trade.commission_asset,
            "time": trade.time_ms,
            "positionSide": "BOTH",
            "buyer": trade.is_buyer,
            "maker": trade.is_maker,
        }

    def position_risk(self, position: PositionView, mark: int, leverage: int, unrealized: int) -> Json:
        """One entry of GET /fapi/v2/positionRisk (/fapi/v3, /dapi/v1)."""
        symbol = position.symbol
        entry = asset(position.entry_price)
        return {
            "symbol": symbol,
            "positionAmt": self.qty(symbol, position.amount),
            "entryPrice": entry,
            "breakEvenPrice": entry,
            "markPrice": self.price(symbol, mark),
            "unRealizedProfit": asset(unrealized),
            "liquidationPrice": "0",
            "leverage": str(leverage),
            "marginType": "cross",
            "isolatedMargin": asset(0),
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "isolatedWallet": "0",
            "updateTime": position.update_time_ms,
        }

    # ---- user data stream ----------------------------------------------------------------------------

    def order_trade_update(self, event: Execution, event_ms: int) -> Json:
        order, trade = event.order, event.trade
        symbol = order.symbol
        order_type, time_in_force = _type_and_tif(order)
        body: Json = {
            "s": symbol,
            "c": order.client_order_id,  # futures keep the order's own id on a cancel
            "S": order.side.value,
            "o": order_type,
            "f": time_in_force,
            "q": self.qty(symbol, order.quantity),
            "p": self.price(symbol, order.price),
            "ap": self.average_price(order),
            "sp": "0",
            "x": event.execution_type,
            "X": order.status.value,
            "i": order.order_id,
            "l": "0" if trade is None else self.qty(symbol, trade.quantity),
            "z": self.qty(symbol, order.executed),
            "L": "0" if trade is None else self.price(symbol, trade.price),
            "T": event.time_ms,
            "t": 0 if trade is None else trade.trade_id,
            "b": "0",
            "a": "0",
            "m": False if trade is None else trade.is_maker,
            "R": False,
            "wt": "CONTRACT_PRICE",
            "ot": order_type,
            "ps": "BOTH",
            "cp": False,
            "rp": "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
        }
        if trade is not None:  # Binance pushes the commission only with a trade
            body["n"] = asset(trade.commission)
            body["N"] = trade.commission_asset
        return {"e": "ORDER_TRADE_UPDATE", "E": event_ms, "T": event.time_ms, "o": body}

    def with_realized(self, body: Json, realized: int) -> Json:
        body["o"]["rp"] = asset(realized)
        return body

    def account_update(self, event: AccountChange, event_ms: int, reason: str = "ORDER") -> Json:
        balances = [
            {"a": b.asset, "wb": asset(b.free + b.locked), "cw": asset(b.free + b.locked), "bc": "0"}
            for b in event.balances
        ]
        positions = [
            {
                "s": p.symbol,
                "pa": self.qty(p.symbol, p.amount),
                "ep": asset(p.entry_price),
                "bep": asset(p.entry_price),
                "cr": "0",
                "up": "0",
                "mt": "cross",
                "iw": "0",
                "ps": "BOTH",
            }
            for p in event.positions
        ]
        return {
            "e": "ACCOUNT_UPDATE",
            "E": event_ms,
            "T": event.time_ms,
            "a": {"m": reason, "B": balances, "P": positions},
        }


def _type_and_tif(order: OrderView) -> tuple[str, str]:
    if order.order_type == "LIMIT_MAKER":  # the core's post-only order: LIMIT + GTX on futures
        return "LIMIT", "GTX"
    return order.order_type, order.time_in_force
