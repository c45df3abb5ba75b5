"""Binance spot user data stream: executionReport and outboundAccountPosition, to domain values.

Pure: bytes in, values out. Numbers stay exact decimal strings until the instrument converts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill


class ExecutionReport(msgspec.Struct, frozen=True):
    e: str
    E: int
    s: str
    c: str
    S: str
    X: str
    x: str
    i: int
    q: str
    p: str
    z: str
    l: str  # noqa: E741 - Binance's field name
    L: str
    n: str = "0"
    N: str | None = None
    t: int = -1
    T: int = 0
    r: str = "NONE"
    C: str = ""


class Balance(msgspec.Struct, frozen=True):
    a: str
    f: str
    l: str  # noqa: E741 - Binance's field name


class AccountPosition(msgspec.Struct, frozen=True):
    e: str
    E: int
    B: list[Balance]


class _EventType(msgspec.Struct):
    e: str = ""
    event: msgspec.Raw = msgspec.Raw()  # the WebSocket API wraps events: {"subscriptionId", "event"}


# Binance's order status words -> ours. EXPIRED_IN_MATCH is self-trade prevention expiring the order.
STATUS = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Balances:
    """Total (free + locked) per asset at ASSET_SCALE, as the venue reports it."""

    totals: dict[str, int]
    ts_event: int


class UserStreamParser:
    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self._type = msgspec.json.Decoder(_EventType)
        self._report = msgspec.json.Decoder(ExecutionReport)
        self._account = msgspec.json.Decoder(AccountPosition)

    def parse(self, frame: bytes) -> OrderReport | Balances | None:
        """One user-stream frame -> a report, balances, or None for events we do not use.

        Raises msgspec.DecodeError / KeyError / ValueError on a malformed frame; the session counts it.
        """
        head = self._type.decode(frame)
        if head.event:
            frame = bytes(head.event)
            head = self._type.decode(frame)
        kind = head.e
        if kind == "executionReport":
            return self.report(self._report.decode(frame))
        if kind == "outboundAccountPosition":
            account = self._account.decode(frame)
            totals = {b.a: parse_fixed(b.f, ASSET_SCALE) + parse_fixed(b.l, ASSET_SCALE) for b in account.B}
            return Balances(totals, account.E * 1_000_000)
        return None

    def report(self, message: ExecutionReport) -> OrderReport:
        instrument = self.instruments[message.s]
        # On a cancel, `c` is the cancel request's own id and `C` the original order's.
        client_id = message.C if message.x == "CANCELED" and message.C else message.c
        fill = None
        if message.x == "TRADE" and message.t >= 0:
            fill = Fill(
                symbol=message.s,
                trade_id=message.t,
                client_id=client_id,
                side=Side(message.S),
                price=instrument.price(message.L),
                size=instrument.size(message.l),
                fee=parse_fixed(message.n, ASSET_SCALE),
                fee_asset=message.N or instrument.quote,
                ts_event=message.T * 1_000_000,
            )
        return OrderReport(
            client_id=client_id,
            symbol=message.s,
            status=STATUS[message.X],
            venue_order_id=message.i,
            filled_total=instrument.size(message.z),
            fill=fill,
            reason="" if message.r == "NONE" else message.r,
            ts_event=message.E * 1_000_000,
        )
