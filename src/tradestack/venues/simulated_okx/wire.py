"""OKX v5 JSON shapes built from the shared venue core's integers: string numbers, OKX field names.

OKX writes decimals without padding ("8476.9", "0.001", "2"), so integers are formatted exactly and
trailing zeros dropped. Times are Unix milliseconds as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tradestack.domain.events import Level, Side
from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.domain.matching import OrderStatus
from tradestack.venues.simulated.accounts import ASSET_SCALE, AccountTrade, Balance, OrderView

Json = dict[str, Any]

STATE = {
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",  # an IOC/FOK/market remainder: OKX reports it canceled
    OrderStatus.REJECTED: "canceled",
}
_TIME_IN_FORCE_TYPE = {"GTC": "limit", "IOC": "ioc", "FOK": "fok"}


def plain(value: int, scale: int) -> str:
    """Integer units -> OKX's unpadded decimal ("8476.90" -> "8476.9", "2.000" -> "2")."""
    text = format_fixed(value, scale)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def side_word(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


def order_type(view: OrderView) -> str:
    if view.order_type == "MARKET":
        return "market"
    if view.order_type == "LIMIT_MAKER":
        return "post_only"
    return _TIME_IN_FORCE_TYPE.get(view.time_in_force, "limit")


class OkxWire:
    def __init__(self, instruments: Mapping[str, Instrument], client_ids: Mapping[str, str]) -> None:
        self.instruments = instruments
        # the venue core keys orders on a client id; orders sent without clOrdId get a hidden one
        self._client_ids = client_ids

    def price(self, symbol: str, value: int) -> str:
        return plain(value, self.instruments[symbol].price_scale)

    def size(self, symbol: str, value: int) -> str:
        return plain(value, self.instruments[symbol].size_scale)

    def asset(self, value: int) -> str:
        return plain(value, ASSET_SCALE)

    def client_id(self, internal: str) -> str:
        return self._client_ids.get(internal, internal)

    def levels(self, symbol: str, levels: Sequence[Level]) -> list[list[str]]:
        """Book levels as OKX sends them: [price, size, "0" (deprecated), order count]."""
        price, size = self.price, self.size
        return [[price(symbol, p), size(symbol, s), "0", "1"] for p, s in levels]

    def instrument(self, instrument: Instrument) -> Json:
        return {
            "instType": "SPOT",
            "instId": instrument.symbol,
            "uly": "",
            "instFamily": "",
            "baseCcy": instrument.base,
            "quoteCcy": instrument.quote,
            "settleCcy": "",
            "ctVal": "",
            "ctMult": "",
            "ctValCcy": "",
            "optType": "",
            "stk": "",
            "listTime": "1606468572000",
            "expTime": "",
            "lever": "",
            "tickSz": plain(instrument.tick, instrument.price_scale),
            "lotSz": plain(instrument.lot, instrument.size_scale),
            "minSz": plain(instrument.min_size or instrument.lot, instrument.size_scale),
            "ctType": "",
            "alias": "",
            "state": "live",
            "ruleType": "normal",
            "maxLmtSz": "9999999999",
            "maxMktSz": "1000000",
        }

    def order(self, view: OrderView, fills: Sequence[AccountTrade]) -> Json:
        """One order as GET /api/v5/trade/order and orders-pending return it; `fills` are its trades."""
        symbol = view.symbol
        instrument = self.instruments[symbol]
        last = fills[-1] if fills else None
        fee = sum(trade.commission for trade in fills)
        average = "0"
        if view.executed:
            # cumulative quote (8 decimals) / executed size, truncated at 8 decimals of the price
            numerator = view.cumulative_quote * 10 ** (instrument.size_scale)
            average = plain(numerator // view.executed, ASSET_SCALE)
        return {
            "instType": "SPOT",
            "instId": symbol,
            "tgtCcy": "",
            "ccy": "",
            "ordId": str(view.order_id),
            "clOrdId": self.client_id(view.client_order_id),
            "tag": "",
            "px": self.price(symbol, view.price) if view.order_type != "MARKET" else "",
            "pxUsd": "",
            "pxVol": "",
            "pxType": "",
            "sz": self.size(symbol, view.quantity),
            "pnl": "0",
            "ordType": order_type(view),
            "side": side_word(view.side),
            "posSide": "",
            "tdMode": "cash",
            "accFillSz": self.size(symbol, view.executed),
            "fillPx": self.price(symbol, last.price) if last else "",
            "tradeId": str(last.trade_id) if last else "",
            "fillSz": self.size(symbol, last.quantity) if last else "",
            "fillTime": str(last.time_ms) if last else "",
            "avgPx": average,
            "state": STATE[view.status],
            "stpId": "",
            "stpMode": "cancel_maker",
            "lever": "",
            "attachAlgoClOrdId": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tpOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "slOrdPx": "",
            "attachAlgoOrds": [],
            "feeCcy": instrument.quote,
            "fee": self.asset(-fee) if fee else "0",
            "rebateCcy": instrument.base,
            "rebate": "0",
            "source": "",
            "category": "normal",
            "reduceOnly": "false",
            "isTpLimit": "false",
            "cancelSource": "",
            "cancelSourceReason": "",
            "quickMgnType": "",
            "algoClOrdId": "",
            "algoId": "",
            "tradeQuoteCcy": instrument.quote,
            "uTime": str(view.update_time_ms),
            "cTime": str(view.time_ms),
        }

    def order_push(self, view: OrderView, fills: Sequence[AccountTrade], fill: AccountTrade | None) -> Json:
        """One entry of the private `orders` channel: the order, with the fill this update carries."""
        body = self.order(view, fills)
        symbol = view.symbol
        if fill is None:
            body.update({"fillPx": "", "tradeId": "", "fillSz": "0", "fillTime": "", "execType": ""})
            body.update({"fillFee": "0", "fillFeeCcy": ""})
        else:
            body.update(
                {
                    "fillPx": self.price(symbol, fill.price),
                    "tradeId": str(fill.trade_id),
                    "fillSz": self.size(symbol, fill.quantity),
                    "fillTime": str(fill.time_ms),
                    "execType": "M" if fill.is_maker else "T",
                    "fillFee": self.asset(-fill.commission) if fill.commission else "0",
                    "fillFeeCcy": fill.commission_asset,
                }
            )
        body.update({"fillPnl": "0", "fillNotionalUsd": "", "notionalUsd": "", "code": "0", "msg": ""})
        body.update({"amendResult": "", "amendSource": "", "reqId": "", "lastPx": body["fillPx"]})
        return body

    def fill(self, trade: AccountTrade, client_id: str, bill_id: int) -> Json:
        """One entry of GET /api/v5/trade/fills."""
        symbol = trade.symbol
        return {
            "instType": "SPOT",
            "instId": symbol,
            "tradeId": str(trade.trade_id),
            "ordId": str(trade.order_id),
            "clOrdId": self.client_id(client_id),
            "billId": str(bill_id),
            "subType": "1" if trade.is_buyer else "2",
            "tag": "",
            "fillPx": self.price(symbol, trade.price),
            "fillSz": self.size(symbol, trade.quantity),
            "fillIdxPx": "",
            "fillPnl": "0",
            "fillPxVol": "",
            "fillPxUsd": "",
            "fillMarkVol": "",
            "fillFwdPx": "",
            "fillMarkPx": "",
            "side": "buy" if trade.is_buyer else "sell",
            "posSide": "net",
            "execType": "M" if trade.is_maker else "T",
            "feeCcy": trade.commission_asset,
            "fee": self.asset(-trade.commission) if trade.commission else "0",
            "ts": str(trade.time_ms),
            "fillTime": str(trade.time_ms),
            "feeRate": "",
            "tradeQuoteCcy": self.instruments[symbol].quote,
        }

    def balance_detail(self, balance: Balance, time_ms: int) -> Json:
        total = balance.free + balance.locked
        return {
            "ccy": balance.asset,
            "eq": self.asset(total),
            "cashBal": self.asset(total),
            "availBal": self.asset(balance.free),
            "availEq": self.asset(balance.free),
            "frozenBal": self.asset(balance.locked),
            "ordFrozen": self.asset(balance.locked),
            "fixedBal": "0",
            "disEq": "",
            "eqUsd": "",
            "upl": "",
            "uplLiab": "",
            "liab": "",
            "crossLiab": "",
            "isoEq": "",
            "isoLiab": "",
            "interest": "",
            "maxLoan": "",
            "mgnRatio": "",
            "notionalLever": "",
            "rewardBal": "0",
            "spotIsoBal": "0",
            "stgyEq": "0",
            "twap": "0",
            "uTime": str(time_ms),
        }
