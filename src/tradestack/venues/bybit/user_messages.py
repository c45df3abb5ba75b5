"""Bybit v5 private topics `order`, `execution` and `wallet` -> OrderReports and balances. Pure.

- `order`: the order after an update (orderStatus, cumExecQty); no fill on it.
- `execution`: one trade of ours each (execId, a UUID string, kept as it is; execPrice, execQty,
  execFee: positive is a fee charged, negative a rebate, in feeCurrency (when absent: the base coin
  for a buy, the quote for a sell, Bybit's spot rule); execTime ms; orderQty and
  leavesQty give the order's filled total and whether it is done). Each becomes a report with its Fill.
- `wallet`: the account's coins after a change: walletBalance is the total (free + locked).
Only spot entries (`category` "spot") of the instruments we trade are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues.bybit.client_ids import OrderDirectory, from_bybit
from tradestack.venues.bybit.parse import millis, units

_SIGNED_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
STATUS: dict[str, OrderStatus] = {
    "New": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED,
    "PartiallyFilledCanceled": OrderStatus.CANCELED,
    "Rejected": OrderStatus.REJECTED,
    "Deactivated": OrderStatus.CANCELED,
    "Untriggered": OrderStatus.NEW,
    "Triggered": OrderStatus.NEW,
}


class OrderEntry(msgspec.Struct, frozen=True):
    symbol: str
    orderId: str
    side: str
    orderStatus: str
    cumExecQty: str
    updatedTime: str
    category: str = "spot"
    orderLinkId: str = ""
    rejectReason: str = ""


class ExecutionEntry(msgspec.Struct, frozen=True):
    symbol: str
    orderId: str
    side: str
    execId: str
    execPrice: str
    execQty: str
    execFee: str
    execTime: str
    orderQty: str
    leavesQty: str
    category: str = "spot"
    orderLinkId: str = ""
    feeCurrency: str = ""
    execType: str = "Trade"


class WalletCoinEntry(msgspec.Struct, frozen=True):
    coin: str
    walletBalance: str = "0"


class WalletEntry(msgspec.Struct, frozen=True):
    accountType: str = "UNIFIED"
    coin: list[WalletCoinEntry] = msgspec.field(default_factory=list)


class OrderPush(msgspec.Struct, frozen=True):
    topic: str
    data: list[OrderEntry]


class ExecutionPush(msgspec.Struct, frozen=True):
    topic: str
    data: list[ExecutionEntry]


class WalletPush(msgspec.Struct, frozen=True):
    topic: str
    data: list[WalletEntry]


class PrivateProbe(msgspec.Struct, frozen=True):
    """Just enough of a private frame to route it: a push has `topic`, an answer `op`."""

    topic: str | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str = ""


class UserStreamParseError(ValueError):
    """A private frame we cannot represent exactly."""


def signed_fee(text: str) -> int:
    """Bybit's execFee: positive is charged, negative a rebate; ours is the same sign."""
    if not text:
        return 0
    if _SIGNED_DECIMAL.fullmatch(text) is None:
        raise UserStreamParseError(f"fee {text[:40]!r}")
    return parse_fixed(text, ASSET_SCALE)


def time_ns(text: str) -> int:
    """A Bybit time (Unix ms as digits) in nanoseconds."""
    if not text.isdigit():
        raise UserStreamParseError(f"time {text[:40]!r}")
    return millis(int(text))


def fee_coin(fee_currency: str, side: Side, instrument: Instrument) -> str:
    """`feeCurrency` when Bybit names it; else its spot rule: a buy pays in the coin it receives (the
    base), a sell in the quote."""
    if fee_currency:
        return fee_currency
    return instrument.base if side is Side.BUY else instrument.quote


def side_of(text: str) -> Side:
    if text == "Buy":
        return Side.BUY
    if text == "Sell":
        return Side.SELL
    raise UserStreamParseError(f"unknown side {text[:40]!r}")


class UserParser:
    """`order`, `execution` and `wallet` pushes -> OrderReports / balances at ASSET_SCALE."""

    def __init__(
        self, instruments: Mapping[str, Instrument], directory: OrderDirectory | None = None
    ) -> None:
        self.instruments = instruments
        self.directory = directory if directory is not None else OrderDirectory()

    def orders(self, frame: bytes) -> list[OrderReport]:
        try:
            push = _ORDERS(frame)
            return [self._order(entry) for entry in push.data if self._ours(entry.category, entry.symbol)]
        except (msgspec.DecodeError, ValueError, KeyError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def executions(self, frame: bytes) -> list[OrderReport]:
        try:
            push = _EXECUTIONS(frame)
            return [
                self._execution(entry)
                for entry in push.data
                if self._ours(entry.category, entry.symbol) and entry.execType == "Trade"
            ]
        except (msgspec.DecodeError, ValueError, KeyError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def balances(self, frame: bytes) -> dict[str, int]:
        try:
            push = _WALLET(frame)
            return {
                coin.coin: units(coin.walletBalance or "0", ASSET_SCALE)
                for account in push.data
                if account.accountType == "UNIFIED"
                for coin in account.coin
            }
        except (msgspec.DecodeError, ValueError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def _ours(self, category: str, symbol: str) -> bool:
        return category == "spot" and symbol in self.instruments

    def _order(self, entry: OrderEntry) -> OrderReport:
        size_scale = self.instruments[entry.symbol].size_scale
        status = STATUS.get(entry.orderStatus)
        if status is None:
            raise UserStreamParseError(f"unknown order status {entry.orderStatus[:40]!r}")
        side_of(entry.side)
        return OrderReport(
            client_id=from_bybit(entry.orderLinkId),
            symbol=entry.symbol,
            status=status,
            venue_order_id=self.directory.learn(entry.orderId),
            filled_total=units(entry.cumExecQty, size_scale) if entry.cumExecQty else 0,
            fill=None,
            reason=entry.rejectReason if entry.rejectReason not in ("", "EC_NoError") else "",
            ts_event=time_ns(entry.updatedTime),
        )

    def _execution(self, entry: ExecutionEntry) -> OrderReport:
        instrument = self.instruments[entry.symbol]
        price_scale, size_scale = instrument.price_scale, instrument.size_scale
        client_id = from_bybit(entry.orderLinkId)
        ordered = units(entry.orderQty, size_scale)
        leaves = units(entry.leavesQty, size_scale)
        size = units(entry.execQty, size_scale)
        price = units(entry.execPrice, price_scale)
        if size <= 0 or price <= 0 or leaves > ordered:
            raise UserStreamParseError(f"execution {entry.execId[:40]!r}: size, price or leavesQty")
        ts_event = time_ns(entry.execTime)
        side = side_of(entry.side)
        fill = Fill(
            symbol=entry.symbol,
            trade_id=entry.execId,
            client_id=client_id,
            side=side,
            price=price,
            size=size,
            fee=signed_fee(entry.execFee),
            fee_asset=fee_coin(entry.feeCurrency, side, instrument),
            ts_event=ts_event,
        )
        return OrderReport(
            client_id=client_id,
            symbol=entry.symbol,
            status=OrderStatus.FILLED if leaves == 0 else OrderStatus.PARTIALLY_FILLED,
            venue_order_id=self.directory.learn(entry.orderId),
            filled_total=ordered - leaves,
            fill=fill,
            reason="",
            ts_event=ts_event,
        )


_ORDERS = msgspec.json.Decoder(OrderPush).decode
_EXECUTIONS = msgspec.json.Decoder(ExecutionPush).decode
_WALLET = msgspec.json.Decoder(WalletPush).decode
PROBE = msgspec.json.Decoder(PrivateProbe).decode
