"""Bybit v5 JSON shapes built from the shared venue core's integers: string numbers, Bybit field names.

Prices are written at the instrument's tick precision ("60000.10"), sizes at its basePrecision,
amounts of coins at 8 decimals; times are Unix milliseconds as strings. execId is a UUID derived
from the core's trade (so REST and the private stream name a trade the same way).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from tradestack.domain.events import Level, Side
from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.domain.matching import OrderStatus
from tradestack.venues.simulated.accounts import ASSET_SCALE, AccountTrade, Balance, OrderView

Json = dict[str, Any]

_EXEC_NAMESPACE: Final = uuid.UUID("6f1d2a3e-6c5b-4f7a-9a8e-2b1c0d9e8f7a")
STATUS: Final = {
    OrderStatus.NEW: "New",
    OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELED: "Cancelled",
    OrderStatus.EXPIRED: "Cancelled",  # an IOC remainder: Bybit reports it cancelled
    OrderStatus.REJECTED: "Rejected",
}


def side_word(side: Side) -> str:
    return "Buy" if side is Side.BUY else "Sell"


def exec_id(trade: AccountTrade) -> str:
    return str(uuid.uuid5(_EXEC_NAMESPACE, f"{trade.symbol}:{trade.trade_id}:{trade.order_id}"))


def status_word(view: OrderView) -> str:
    if view.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED) and view.executed > 0:
        return "PartiallyFilledCanceled"
    return STATUS[view.status]


class BybitWire:
    def __init__(self, instruments: Mapping[str, Instrument], client_ids: Mapping[str, str]) -> None:
        self.instruments = instruments
        # the venue core keys orders on a client id; orders sent without orderLinkId get a hidden one
        self._client_ids = client_ids

    def price(self, symbol: str, value: int) -> str:
        return format_fixed(value, self.instruments[symbol].price_scale)

    def size(self, symbol: str, value: int) -> str:
        return format_fixed(value, self.instruments[symbol].size_scale)

    @staticmethod
    def asset(value: int) -> str:
        return format_fixed(value, ASSET_SCALE)

    def client_id(self, internal: str) -> str:
        return self._client_ids.get(internal, internal)

    def levels(self, symbol: str, levels: Sequence[Level]) -> list[list[str]]:
        return [[self.price(symbol, p), self.size(symbol, s)] for p, s in levels]

    def instrument(self, instrument: Instrument) -> Json:
        tick = format_fixed(instrument.tick, instrument.price_scale)
        step = format_fixed(instrument.lot, instrument.size_scale)
        return {
            "symbol": instrument.symbol,
            "baseCoin": instrument.base,
            "quoteCoin": instrument.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "none",
            "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": step,
                "quotePrecision": "0.00000001",
                "minOrderQty": format_fixed(instrument.min_size or instrument.lot, instrument.size_scale),
                "maxOrderQty": "10000",
                "minOrderAmt": "1",
                "maxOrderAmt": "2000000",
            },
            "priceFilter": {"tickSize": tick},
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
        }

    def order(self, view: OrderView, fee: int) -> Json:
        """One order as /v5/order/realtime, /history and the `order` topic write it."""
        symbol = view.symbol
        instrument = self.instruments[symbol]
        average = ""
        if view.executed:
            # cumulative quote (8 decimals) / executed size, truncated at 8 decimals
            average = format_fixed(view.cumulative_quote * 10**instrument.size_scale // view.executed, 8)
        leaves = view.quantity - view.executed if view.is_open else 0
        return {
            "orderId": str(view.order_id),
            "orderLinkId": self.client_id(view.client_order_id),
            "blockTradeId": "",
            "symbol": symbol,
            "price": self.price(symbol, view.price),
            "qty": self.size(symbol, view.quantity),
            "side": side_word(view.side),
            "isLeverage": "0",
            "positionIdx": 0,
            "orderStatus": status_word(view),
            "cancelType": "UNKNOWN" if view.is_open or view.status is OrderStatus.FILLED else "CancelByUser",
            "rejectReason": "EC_NoError",
            "avgPrice": average,
            "leavesQty": self.size(symbol, leaves),
            "leavesValue": "0",
            "cumExecQty": self.size(symbol, view.executed),
            "cumExecValue": self.asset(view.cumulative_quote),
            "cumExecFee": self.asset(fee),
            "timeInForce": "PostOnly" if view.order_type == "LIMIT_MAKER" else view.time_in_force,
            "orderType": "Market" if view.order_type == "MARKET" else "Limit",
            "stopOrderType": "",
            "orderIv": "",
            "triggerPrice": "0.00",
            "takeProfit": "0.00",
            "stopLoss": "0.00",
            "triggerBy": "",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "reduceOnly": False,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "marketUnit": "",
            "createdTime": str(view.time_ms),
            "updatedTime": str(view.update_time_ms),
        }

    def execution(self, trade: AccountTrade, view: OrderView, leaves: int, seq: int) -> Json:
        """One execution of ours, as /v5/execution/list and the `execution` topic write it; `leaves` is
        the order's size still open right after this trade."""
        symbol = trade.symbol
        return {
            "category": "spot",
            "symbol": symbol,
            "orderId": str(trade.order_id),
            "orderLinkId": self.client_id(view.client_order_id),
            "side": "Buy" if trade.is_buyer else "Sell",
            "orderPrice": self.price(symbol, view.price),
            "orderQty": self.size(symbol, view.quantity),
            "leavesQty": self.size(symbol, leaves),
            "createType": "CreateByUser",
            "orderType": "Market" if view.order_type == "MARKET" else "Limit",
            "stopOrderType": "",
            "execFee": self.asset(trade.commission),
            "feeCurrency": trade.commission_asset,
            "execId": exec_id(trade),
            "execPrice": self.price(symbol, trade.price),
            "execQty": self.size(symbol, trade.quantity),
            "execType": "Trade",
            "execValue": self.asset(trade.quote_quantity),
            "execTime": str(trade.time_ms),
            "isMaker": trade.is_maker,
            "feeRate": "",
            "tradeIv": "",
            "markIv": "",
            "markPrice": "",
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": "",
            "seq": seq,
        }

    def coin(self, balance: Balance) -> Json:
        total = balance.free + balance.locked
        return {
            "coin": balance.asset,
            "equity": self.asset(total),
            "usdValue": "",
            "walletBalance": self.asset(total),
            "locked": self.asset(balance.locked),
            "spotHedgingQty": "0",
            "borrowAmount": "0",
            "availableToWithdraw": "",
            "accruedInterest": "0",
            "totalOrderIM": "0",
            "totalPositionIM": "0",
            "totalPositionMM": "0",
            "unrealisedPnl": "0",
            "cumRealisedPnl": "0",
            "bonus": "0",
            "marginCollateral": True,
            "collateralSwitch": True,
        }

    def account(self, balances: Sequence[Balance]) -> Json:
        return {
            "accountType": "UNIFIED",
            "accountIMRate": "0",
            "accountMMRate": "0",
            "totalEquity": "",
            "totalWalletBalance": "",
            "totalMarginBalance": "",
            "totalAvailableBalance": "",
            "totalPerpUPL": "0",
            "totalInitialMargin": "0",
            "totalMaintenanceMargin": "0",
            "accountLTV": "0",
            "coin": [self.coin(balance) for balance in balances],
        }
