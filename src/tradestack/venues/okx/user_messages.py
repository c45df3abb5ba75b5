"""OKX v5 private `orders` channel -> OrderReports, and order states -> ours. Pure.

A push carries the order after the update, and for a fill the fill itself: `tradeId`, `fillPx`,
`fillSz`, `fillTime`, `fillFee` (negative: a fee charged; positive: a rebate) in `fillFeeCcy`.
`accFillSz` is the cumulative filled size. States: live, partially_filled, filled, canceled,
mmp_canceled (market-maker protection canceled it).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues.okx.client_ids import from_okx

STATE: dict[str, OrderStatus] = {
    "live": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "mmp_canceled": OrderStatus.CANCELED,
}
_MS = 1_000_000
_MAX_NANOS = 2**63 - 1


class OrderPush(msgspec.Struct, frozen=True):
    instId: str
    ordId: str
    clOrdId: str
    side: str
    state: str
    accFillSz: str
    uTime: str
    tradeId: str = ""
    fillPx: str = ""
    fillSz: str = ""
    fillTime: str = ""
    fillFee: str = ""
    fillFeeCcy: str = ""
    code: str = "0"
    msg: str = ""


class PushArgument(msgspec.Struct, frozen=True):
    channel: str


class PrivatePush(msgspec.Struct, frozen=True):
    arg: PushArgument
    data: list[OrderPush]


class PrivateProbe(msgspec.Struct, frozen=True):
    event: str | None = None
    code: str = ""
    msg: str = ""
    arg: PushArgument | None = None


class UserStreamParseError(ValueError):
    """A private frame we cannot represent exactly."""


def signed_fee(text: str) -> int:
    """OKX's fee sign is the account's: -0.1 is a fee of 0.1 charged. Ours: positive is charged."""
    if not text:
        return 0
    return -parse_fixed(text, ASSET_SCALE)


class OrdersParser:
    """`orders` pushes -> OrderReports (with the Fill when the push carries one)."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments

    def reports(self, frame: bytes) -> list[OrderReport]:
        try:
            push = _PUSH(frame)
            return [self._report(entry) for entry in push.data if entry.instId in self.instruments]
        except (msgspec.DecodeError, ValueError, KeyError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def _report(self, entry: OrderPush) -> OrderReport:
        instrument = self.instruments[entry.instId]
        status = STATE.get(entry.state)
        if status is None:
            raise UserStreamParseError(f"unknown order state {entry.state[:40]!r}")
        if entry.side not in ("buy", "sell"):
            raise UserStreamParseError(f"unknown side {entry.side[:40]!r}")
        side = Side.BUY if entry.side == "buy" else Side.SELL
        client_id = from_okx(entry.clOrdId)
        fill = None
        if entry.tradeId and entry.fillSz and instrument.size(entry.fillSz) > 0:
            price = instrument.price(entry.fillPx)
            if price <= 0:
                raise UserStreamParseError(f"a fill at {entry.fillPx[:40]!r}")
            fill = Fill(
                symbol=entry.instId,
                trade_id=str(_count(entry.tradeId, "tradeId")),  # OKX numbers trades in order
                client_id=client_id,
                side=side,
                price=price,
                size=instrument.size(entry.fillSz),
                fee=signed_fee(entry.fillFee),
                fee_asset=entry.fillFeeCcy,
                ts_event=_nanos(entry.fillTime, "fillTime"),
            )
        filled = instrument.size(entry.accFillSz) if entry.accFillSz else 0
        if filled < 0:
            raise UserStreamParseError(f"accFillSz {entry.accFillSz[:40]!r}")
        return OrderReport(
            client_id=client_id,
            symbol=entry.instId,
            status=status,
            venue_order_id=_count(entry.ordId, "ordId"),
            filled_total=filled,
            fill=fill,
            reason="" if entry.code in ("", "0") else f"{entry.code} {entry.msg}",
            ts_event=_nanos(entry.uTime, "uTime"),
        )


def _count(text: str, name: str) -> int:
    """An id OKX writes as a decimal string: a non-negative integer."""
    value = int(text)
    if value < 0:
        raise UserStreamParseError(f"{name} {text[:40]!r}")
    return value


def _nanos(millis_text: str, name: str) -> int:
    """Milliseconds since the epoch -> ns, refused when negative or beyond int64 nanoseconds."""
    value = int(millis_text) * _MS
    if not 0 <= value <= _MAX_NANOS:
        raise UserStreamParseError(f"{name} {millis_text[:40]!r} is not a time")
    return value


_PUSH = msgspec.json.Decoder(PrivatePush).decode
PROBE = msgspec.json.Decoder(PrivateProbe).decode
