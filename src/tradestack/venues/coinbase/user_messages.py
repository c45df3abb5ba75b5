"""Coinbase Exchange ws-feed `user` channel -> OrderReports. Pure (a small per-order state, no I/O).

The `user` channel is the `full` channel's messages for the profile's own orders, with `user_id`
and `profile_id` added:
- `received`  the order reached the matching engine: `order_id`, `client_oid`, `size`, `price`, `side`
- `open`      it rests on the book: `remaining_size`
- `match`     a trade: `trade_id`, `maker_order_id`, `taker_order_id`, `side` (the MAKER's side),
              `size`, `price`; our side of it carries `maker_profile_id`/`taker_profile_id` and its
              fee rate (`maker_fee_rate` or `taker_fee_rate`)
- `done`      the order left the book: `reason` filled | canceled, `remaining_size`
- `change`, `activate` (size changes by self-trade prevention, stop orders) are not ours to act on.
Only `received` names the client_oid, so the order id -> client id link is kept from it (and from
the OrderDirectory shared with CoinbaseTrading, which learns it from REST answers). A match carries
no fee amount: fee = price x size x rate, exact, truncated to ASSET_SCALE (the fee Coinbase reports
on GET /fills is authoritative; reconciliation reads that one). Fill.trade_id is Coinbase's integer
trade_id; venue_order_id is the order id's 63-bit handle (client_ids.order_handle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed, pow10
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues.coinbase.client_ids import OrderDirectory, from_coinbase, order_handle
from tradestack.venues.coinbase.parse import iso_nanos


class UserMessage(msgspec.Struct, frozen=True):
    type: str
    product_id: str = ""
    time: str = ""
    sequence: int = 0
    order_id: str = ""
    client_oid: str = ""
    side: str = ""
    size: str = ""
    price: str = ""
    remaining_size: str = ""
    reason: str = ""
    trade_id: int = 0
    maker_order_id: str = ""
    taker_order_id: str = ""
    maker_profile_id: str = ""
    taker_profile_id: str = ""
    maker_fee_rate: str = ""
    taker_fee_rate: str = ""
    message: str = ""


class UserStreamParseError(ValueError):
    """A user-channel frame we cannot represent exactly."""


@dataclass(slots=True)
class _Known:
    client_id: str
    size: int | None
    filled: int = 0


def fee_units(price: int, size: int, instrument: Instrument, rate: str) -> int:
    """price x size x rate at ASSET_SCALE, truncated (the rate is Coinbase's decimal string)."""
    if not rate:
        return 0
    point = rate.find(".")
    rate_scale = 0 if point < 0 else len(rate) - point - 1
    exact = price * size * parse_fixed(rate, rate_scale)
    scale = instrument.notional_scale + rate_scale
    if scale >= ASSET_SCALE:
        return exact // pow10(scale - ASSET_SCALE)
    return exact * pow10(ASSET_SCALE - scale)


class UserParser:
    """`user` channel frames -> OrderReports for the products in `instruments`."""

    def __init__(
        self, instruments: Mapping[str, Instrument], directory: OrderDirectory | None = None
    ) -> None:
        self.instruments = instruments
        self.directory = directory if directory is not None else OrderDirectory()
        self._orders: dict[str, _Known] = {}
        self.unknown_orders = 0

    def reports(self, frame: bytes) -> list[OrderReport]:
        """[] for frames that are not about an order of ours (subscriptions, heartbeats...)."""
        try:
            message = _MESSAGE(frame)
            return self._reports(message)
        except (msgspec.DecodeError, ValueError, KeyError) as error:
            raise UserStreamParseError(f"{type(error).__name__}: {error}") from error

    def _reports(self, message: UserMessage) -> list[OrderReport]:
        kind = message.type
        if kind == "error":
            raise UserStreamParseError(f"venue error: {message.message}")
        instrument = self.instruments.get(message.product_id)
        if instrument is None or kind not in ("received", "open", "match", "done"):
            return []
        ts_event = iso_nanos(message.time) if message.time else 0
        if kind == "match":
            return self._match(message, instrument, ts_event)
        order_id = message.order_id
        if kind == "received":
            client_id = from_coinbase(message.client_oid)
            size = instrument.size(message.size) if message.size else None
            self._orders[order_id] = _Known(client_id, size)
            self.directory.learn(order_id, client_id)
            return [self._report(message.product_id, order_id, OrderStatus.NEW, ts_event)]
        known = self._known(order_id)
        remaining = instrument.size(message.remaining_size) if message.remaining_size else None
        if known.size is not None and remaining is not None:
            known.filled = max(known.filled, known.size - remaining)
        if kind == "open":
            status = OrderStatus.PARTIALLY_FILLED if known.filled else OrderStatus.NEW
            return [self._report(message.product_id, order_id, status, ts_event)]
        # done
        if message.reason == "filled":
            status = OrderStatus.FILLED
        elif message.reason == "canceled":
            status = OrderStatus.CANCELED
        else:
            raise UserStreamParseError(f"done reason {message.reason[:40]!r}")
        report = self._report(message.product_id, order_id, status, ts_event)
        self._orders.pop(order_id, None)
        return [report]

    def _match(self, message: UserMessage, instrument: Instrument, ts_event: int) -> list[OrderReport]:
        if message.side not in ("buy", "sell"):
            raise UserStreamParseError(f"match side {message.side[:40]!r}")
        maker_side = Side.BUY if message.side == "buy" else Side.SELL
        taker_side = Side.SELL if maker_side is Side.BUY else Side.BUY
        ours: list[tuple[str, Side, str]] = []
        if message.maker_profile_id or message.maker_fee_rate:
            ours.append((message.maker_order_id, maker_side, message.maker_fee_rate))
        if message.taker_profile_id or message.taker_fee_rate:
            ours.append((message.taker_order_id, taker_side, message.taker_fee_rate))
        if not ours:  # no profile fields: whichever order we know
            for order_id, side in (
                (message.maker_order_id, maker_side),
                (message.taker_order_id, taker_side),
            ):
                if order_id in self._orders or self.directory.client_id(order_id) is not None:
                    ours.append((order_id, side, ""))
        price = instrument.price(message.price)
        size = instrument.size(message.size)
        reports = []
        for order_id, side, rate in ours:
            known = self._known(order_id)
            known.filled += size
            fill = Fill(
                symbol=message.product_id,
                trade_id=str(message.trade_id),
                client_id=known.client_id,
                side=side,
                price=price,
                size=size,
                fee=fee_units(price, size, instrument, rate),
                fee_asset=instrument.quote,
                ts_event=ts_event,
            )
            filled = known.size is not None and known.filled >= known.size
            status = OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED
            reports.append(self._report(message.product_id, order_id, status, ts_event, fill))
        return reports

    def _known(self, order_id: str) -> _Known:
        known = self._orders.get(order_id)
        if known is None:
            client_id = self.directory.client_id(order_id)
            if client_id is None:
                self.unknown_orders += 1
                client_id = ""
            known = _Known(client_id, None)
            self._orders[order_id] = known
        return known

    def _report(
        self, symbol: str, order_id: str, status: OrderStatus, ts_event: int, fill: Fill | None = None
    ) -> OrderReport:
        known = self._orders[order_id]
        filled = known.size if status is OrderStatus.FILLED and known.size is not None else known.filled
        return OrderReport(
            client_id=known.client_id,
            symbol=symbol,
            status=status,
            venue_order_id=order_handle(order_id),
            filled_total=filled,
            fill=fill,
            reason="",
            ts_event=ts_event,
        )


_MESSAGE = msgspec.json.Decoder(UserMessage).decode
