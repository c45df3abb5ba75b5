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
            fill = Fill(
                symbol=entry.instId,
                trade_id=str(int(entry.tradeId)),  # OKX numbers trades in order per instrument
                client_id=client_id,
                side=side,
                price=instrument.price(entry.fillPx),
                size=instrument.size(entry.fillSz),
                fee=signed_fee(entry.fillFee),
                fee_asset=entry.fillFeeCcy,
                ts_event=int(entry.fillTime) * _MS,
            )
        return OrderReport(
            client_id=client_id,
            symbol=entry.instId,
            status=status,
            venue_order_id=int(entry.ordId),
            filled_total=instrument.size(entry.accFillSz) if entry.accFillSz else 0,
            fill=fill,
            reason="" if entry.code in ("", "0") else f"{entry.code} {entry.msg}",
            ts_event=int(entry.uTime) * _MS,
        )


_PUSH = msgspec.json.Decoder(PrivatePush).decode
PROBE = msgspec.json.Decoder(PrivateProbe).decode
