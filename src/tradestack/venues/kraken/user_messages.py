"""Kraken WebSocket v2 private channels -> domain values. Pure.

`executions`: one entry per order event; `exec_type` new, trade, filled, canceled, expired (and
pending_new, amended, restated, status), `order_status` the order's state after it. A `trade` entry
is a fill: `exec_id` is the trade's id (the TradesHistory key), `last_qty`/`last_price` the fill,
`fees` a list of {asset, qty} (a charged fee is positive), `cum_qty` the order's filled total.
Numbers are JSON numbers, read exactly from their text. `balances`: {asset, balance} per asset
(common names: BTC, USD), the total after the change.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues.kraken.client_ids import OrderDirectory
from tradestack.venues.kraken.parse import KrakenParseError, number_units, rfc3339_nanos

ORDER_STATUS: dict[str, OrderStatus] = {
    "pending_new": OrderStatus.NEW,
    "new": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}
_FINE = 18
_ZERO = msgspec.Raw(b"0")
_ABSENT = msgspec.Raw(b"")  # fees are read at 18 decimals, then rounded up to ASSET_SCALE


class FeeEntry(msgspec.Struct, frozen=True):
    asset: str
    qty: msgspec.Raw


class Execution(msgspec.Struct, frozen=True):
    order_id: str
    exec_type: str
    order_status: str = ""
    symbol: str = ""
    side: str = ""
    cl_ord_id: str | None = None
    cum_qty: msgspec.Raw = _ZERO
    exec_id: str | None = None
    last_qty: msgspec.Raw = _ABSENT
    last_price: msgspec.Raw = _ABSENT
    fees: list[FeeEntry] = []
    timestamp: str = ""
    reason: str = ""


class ExecutionsMessage(msgspec.Struct, frozen=True):
    channel: str
    type: str
    data: list[Execution]


class BalanceEntry(msgspec.Struct, frozen=True):
    asset: str
    balance: msgspec.Raw


class BalancesMessage(msgspec.Struct, frozen=True):
    channel: str
    type: str
    data: list[BalanceEntry]


class MethodReply(msgspec.Struct, frozen=True):
    method: str | None = None
    success: bool | None = None
    error: str | None = None
    result: dict[str, object] | None = None


class UserStreamParseError(ValueError):
    """A private frame we cannot represent exactly."""


def _nanos(timestamp: str) -> int:
    """An RFC 3339 time in nanoseconds (0 when absent); beyond int64 nanoseconds is refused."""
    ns = rfc3339_nanos(timestamp) if timestamp else 0
    if ns >= 2**63:
        raise UserStreamParseError(f"time out of range: {timestamp[:40]!r}")
    return ns


def fee_units(raw: bytes) -> int:
    """A fee (JSON number text) at ASSET_SCALE, rounded up past it (a fee is never understated)."""
    fine = number_units(raw, _FINE)
    scale = 10 ** (_FINE - ASSET_SCALE)
    return int(-(-fine // scale))


class ExecutionsParser:
    """`executions` frames -> OrderReports (with the Fill of a `trade` entry); `balances` frames ->
    totals at ASSET_SCALE. Learns each txid's handle and client id in the shared directory."""

    def __init__(self, instruments: Mapping[str, Instrument], directory: OrderDirectory) -> None:
        self.instruments = instruments
        self.directory = directory

    def reports(self, frame: bytes) -> list[OrderReport]:
        try:
            message = _EXECUTIONS(frame)
            reports = []
            for entry in message.data:
                if entry.symbol in self.instruments:
                    report = self._report(entry)
                    if report is not None:
                        reports.append(report)
            return reports
        except (msgspec.DecodeError, KrakenParseError, ValueError, KeyError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def balances(self, frame: bytes) -> dict[str, int]:
        try:
            message = _BALANCES(frame)
            return {entry.asset: number_units(bytes(entry.balance), ASSET_SCALE) for entry in message.data}
        except (msgspec.DecodeError, KrakenParseError, ValueError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def _report(self, entry: Execution) -> OrderReport | None:
        if entry.exec_type == "pending_new":
            return None  # not yet in the book; `new` follows
        instrument = self.instruments[entry.symbol]
        status = ORDER_STATUS.get(entry.order_status)
        if status is None:
            raise UserStreamParseError(f"unknown order_status {entry.order_status[:40]!r}")
        client_id = entry.cl_ord_id or self.directory.client_id(entry.order_id) or ""
        handle = self.directory.learn(entry.order_id, client_id or None)
        ts_event = _nanos(entry.timestamp)
        fill = None
        if entry.exec_type == "trade":
            if entry.exec_id is None or not entry.last_qty or not entry.last_price:
                raise UserStreamParseError(
                    f"a trade of {entry.order_id[:40]} without exec_id/last_qty/last_price"
                )
            if entry.side not in ("buy", "sell"):
                raise UserStreamParseError(f"unknown side {entry.side[:40]!r}")
            fee = sum(fee_units(bytes(item.qty)) for item in entry.fees)
            price = number_units(bytes(entry.last_price), instrument.price_scale)
            size = number_units(bytes(entry.last_qty), instrument.size_scale)
            if price <= 0 or size <= 0:
                raise UserStreamParseError(f"a trade of {size} at {price} units")
            fill = Fill(
                symbol=entry.symbol,
                trade_id=entry.exec_id,
                client_id=client_id,
                side=Side.BUY if entry.side == "buy" else Side.SELL,
                price=price,
                size=size,
                fee=fee,
                fee_asset=entry.fees[0].asset if entry.fees else instrument.quote,
                ts_event=ts_event,
            )
        return OrderReport(
            client_id=client_id,
            symbol=entry.symbol,
            status=status,
            venue_order_id=handle,
            filled_total=number_units(bytes(entry.cum_qty), instrument.size_scale),
            fill=fill,
            reason=entry.reason,
            ts_event=ts_event,
        )


_EXECUTIONS = msgspec.json.Decoder(ExecutionsMessage).decode
_BALANCES = msgspec.json.Decoder(BalancesMessage).decode
REPLY = msgspec.json.Decoder(MethodReply).decode
