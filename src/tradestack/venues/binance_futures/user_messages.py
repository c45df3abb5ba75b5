"""USD-M futures user data stream: ORDER_TRADE_UPDATE and ACCOUNT_UPDATE, to domain values.

Pure: bytes in, values out. An ACCOUNT_UPDATE becomes `Balances` holding both the wallet balances
(`wb`) and each position, signed, under its position asset ("BTCUSDT-PERP": instrument.base), which
is what drift is measured on. Positions of symbols we do not trade are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed, pow10
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues.binance.user_messages import (
    STATUS,
    Balances,
    UserStreamParseError,
    UserStreamParser,
)


class OrderUpdate(msgspec.Struct, frozen=True):
    """ORDER_TRADE_UPDATE's `o`."""

    s: str
    c: str
    S: str
    x: str
    X: str
    i: int
    q: str
    p: str
    z: str
    l: str  # noqa: E741 - Binance's field name
    L: str
    T: int
    n: str = "0"
    N: str | None = None
    t: int = 0
    rp: str = "0"
    o: str = "LIMIT"
    f: str = "GTC"


class OrderTradeUpdate(msgspec.Struct, frozen=True):
    e: str
    E: int
    o: OrderUpdate
    T: int = 0


class WalletBalance(msgspec.Struct, frozen=True):
    a: str
    wb: str
    cw: str = "0"
    bc: str = "0"


class PositionUpdate(msgspec.Struct, frozen=True):
    s: str
    pa: str
    ep: str = "0"
    ps: str = "BOTH"


class AccountData(msgspec.Struct, frozen=True):
    m: str = ""
    B: list[WalletBalance] = []
    P: list[PositionUpdate] = []


class AccountUpdate(msgspec.Struct, frozen=True):
    e: str
    E: int
    a: AccountData
    T: int = 0


class _EventType(msgspec.Struct):
    e: str = ""


_UNSIGNED = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SIGNED = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MAX_MS = (2**63 - 1) // 1_000_000


def _units(text: str, scale: int, what: str, signed: bool = False) -> int:
    if (_SIGNED if signed else _UNSIGNED).fullmatch(text) is None:
        raise UserStreamParseError(f"{what}: not a decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def _nanos(ms: int, what: str) -> int:
    if not 0 <= ms <= _MAX_MS:
        raise UserStreamParseError(f"{what}: time {ms} ms is out of range")
    return ms * 1_000_000


class FuturesUserStreamParser(UserStreamParser):
    """The spot parser's contract (one UserStreamParseError for any bad frame; None for events we do
    not use, such as listenKeyExpired or MARGIN_CALL) over futures events."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        super().__init__(instruments)
        self._head = msgspec.json.Decoder(_EventType)
        self._order_update = msgspec.json.Decoder(OrderTradeUpdate)
        self._account_update = msgspec.json.Decoder(AccountUpdate)

    def _parse(self, frame: bytes) -> OrderReport | Balances | None:
        kind = self._head.decode(frame).e
        if kind == "ORDER_TRADE_UPDATE":
            update = self._order_update.decode(frame)
            if update.o.s not in self.instruments:
                return None  # a symbol this process does not trade
            return self.order_report(update)
        if kind == "ACCOUNT_UPDATE":
            return self.balances(self._account_update.decode(frame))
        return None

    def order_report(self, update: OrderTradeUpdate) -> OrderReport:
        order = update.o
        instrument = self.instruments[order.s]
        fill = None
        if order.x == "TRADE":
            price = _units(order.L, instrument.price_scale, "L")
            size = _units(order.l, instrument.size_scale, "l")
            if price <= 0 or size <= 0:
                raise UserStreamParseError(f"a fill of {order.l!r} at {order.L!r}")
            fill = Fill(
                symbol=order.s,
                trade_id=str(order.t),
                client_id=order.c,  # futures keep the order's own id in `c`, on cancels too
                side=Side(order.S),
                price=price,
                size=size,
                fee=_units(order.n, ASSET_SCALE, "n"),
                fee_asset=order.N or instrument.quote,
                ts_event=_nanos(order.T, "T"),
            )
        return OrderReport(
            client_id=order.c,
            symbol=order.s,
            status=STATUS[order.X],
            venue_order_id=order.i,
            filled_total=_units(order.z, instrument.size_scale, "z"),
            fill=fill,
            reason="",
            ts_event=_nanos(update.E, "E"),
        )

    def balances(self, update: AccountUpdate) -> Balances:
        totals = {b.a: _units(b.wb, ASSET_SCALE, "wb", signed=True) for b in update.a.B}
        for position in update.a.P:
            instrument = self.instruments.get(position.s)
            if instrument is None or position.ps != "BOTH":
                continue  # hedge-mode legs are not traded here
            size = _units(position.pa, instrument.size_scale, "pa", signed=True)
            totals[instrument.base] = size * pow10(ASSET_SCALE - instrument.size_scale)
        return Balances(totals, _nanos(update.E, "E"))
