"""Binance spot user data stream: executionReport and outboundAccountPosition, to domain values.

Pure: bytes in, values out. Numbers stay exact decimal strings until the instrument converts them.
"""

from __future__ import annotations

import re
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


class UserStreamParseError(ValueError):
    """A user-stream frame that is not a Binance event we can represent exactly."""


_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # no sign, exponent, separators or spaces
_MAX_MS = (2**63 - 1) // 1_000_000  # a time in ms must fit int64 nanoseconds


def _units(text: str, scale: int, what: str) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise UserStreamParseError(f"{what}: not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def _nanos(ms: int, what: str) -> int:
    if not 0 <= ms <= _MAX_MS:
        raise UserStreamParseError(f"{what}: time {ms} ms is out of range")
    return ms * 1_000_000


class UserStreamParser:
    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self._type = msgspec.json.Decoder(_EventType)
        self._report = msgspec.json.Decoder(ExecutionReport)
        self._account = msgspec.json.Decoder(AccountPosition)

    def parse(self, frame: bytes) -> OrderReport | Balances | None:
        """One user-stream frame -> a report, balances, or None for events we do not use.

        Raises UserStreamParseError, and nothing else, on a malformed frame; the session counts it.
        """
        try:
            return self._parse(frame)
        except UserStreamParseError:
            raise
        except Exception as error:  # the contract: one typed error for any bad frame
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def _parse(self, frame: bytes) -> OrderReport | Balances | None:
        head = self._type.decode(frame)
        if head.event:
            frame = bytes(head.event)
            head = self._type.decode(frame)
        kind = head.e
        if kind == "executionReport":
            return self.report(self._report.decode(frame))
        if kind == "outboundAccountPosition":
            account = self._account.decode(frame)
            totals = {
                b.a: _units(b.f, ASSET_SCALE, "free") + _units(b.l, ASSET_SCALE, "locked") for b in account.B
            }
            return Balances(totals, _nanos(account.E, "E"))
        return None

    def report(self, message: ExecutionReport) -> OrderReport:
        instrument = self.instruments[message.s]
        # On a cancel, `c` is the cancel request's own id and `C` the original order's.
        client_id = message.C if message.x == "CANCELED" and message.C else message.c
        price_scale, size_scale = instrument.price_scale, instrument.size_scale
        fill = None
        if message.x == "TRADE" and message.t >= 0:
            price = _units(message.L, price_scale, "L")
            size = _units(message.l, size_scale, "l")
            if price <= 0 or size <= 0:
                raise UserStreamParseError(f"a fill of {message.l!r} at {message.L!r}")
            fill = Fill(
                symbol=message.s,
                trade_id=str(message.t),
                client_id=client_id,
                side=Side(message.S),
                price=price,
                size=size,
                fee=_units(message.n, ASSET_SCALE, "n"),
                fee_asset=message.N or instrument.quote,
                ts_event=_nanos(message.T, "T"),
            )
        return OrderReport(
            client_id=client_id,
            symbol=message.s,
            status=STATUS[message.X],
            venue_order_id=message.i,
            filled_total=_units(message.z, size_scale, "z"),
            fill=fill,
            reason="" if message.r == "NONE" else message.r,
            ts_event=_nanos(message.E, "E"),
        )
