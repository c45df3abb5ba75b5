"""Coinbase Exchange JSON shapes built from the shared venue core's integers.

Coinbase writes prices and sizes with 8 decimals ("10.00000000"), fees and values with 16, times as
ISO 8601 UTC with microseconds ("2020-03-11T20:48:46.622052Z"). Order ids are UUIDs: account orders
get a random one when placed; the background flow's orders a UUID derived from the engine's id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tradestack.domain.events import Level, Side
from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.domain.matching import OrderStatus
from tradestack.venues.simulated.accounts import ASSET_SCALE, AccountTrade, Balance, OrderView

Json = dict[str, Any]


def padded(value: int, scale: int, decimals: int) -> str:
    """Integer units at `scale` as a decimal with exactly `decimals` places (decimals >= scale)."""
    text = format_fixed(value, scale)
    if scale == 0:
        text += "."
    return text + "0" * (decimals - scale)


def iso_ms(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{time_ms % 1000:03d}000Z"


def side_word(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


class CoinbaseWire:
    def __init__(self, instruments: Mapping[str, Instrument], profile_id: str, user_id: str) -> None:
        self.instruments = instruments
        self.profile_id = profile_id
        self.user_id = user_id
        self.uuid_of: dict[tuple[str, int], str] = {}  # account orders: (product, engine id) -> id
        self.order_of: dict[str, tuple[str, int]] = {}
        self.client_oids: dict[str, str] = {}  # venue-core client id -> client_oid ("" when none)

    def order_id(self, symbol: str, engine_id: int) -> str:
        """The UUID of any order on the book (ours: as placed; the flow's: derived)."""
        known = self.uuid_of.get((symbol, engine_id))
        if known is not None:
            return known
        digest = hashlib.blake2b(f"flow:{symbol}:{engine_id}".encode(), digest_size=16).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    def client_oid(self, internal: str) -> str:
        return self.client_oids.get(internal, internal)

    def price(self, symbol: str, value: int) -> str:
        return padded(value, self.instruments[symbol].price_scale, 8)

    def size(self, symbol: str, value: int) -> str:
        return padded(value, self.instruments[symbol].size_scale, 8)

    def amount(self, value: int) -> str:
        """An asset amount (ASSET_SCALE) with Coinbase's 16 decimals."""
        return padded(value, ASSET_SCALE, 16)

    def levels(self, symbol: str, levels: Sequence[Level]) -> list[list[str]]:
        return [[self.price(symbol, p), self.size(symbol, s)] for p, s in levels]

    def product(self, instrument: Instrument) -> Json:
        return {
            "id": instrument.symbol,
            "base_currency": instrument.base,
            "quote_currency": instrument.quote,
            "quote_increment": padded(instrument.tick, instrument.price_scale, 8),
            "base_increment": padded(instrument.lot, instrument.size_scale, 8),
            "display_name": instrument.symbol.replace("-", "/"),
            "min_market_funds": "1",
            "margin_enabled": False,
            "post_only": False,
            "limit_only": False,
            "cancel_only": False,
            "status": "online",
            "status_message": "",
            "trading_disabled": False,
            "fx_stablecoin": False,
            "max_slippage_percentage": "0.03000000",
            "auction_mode": False,
            "high_bid_limit_percentage": "",
        }

    def order(self, view: OrderView, fills: Sequence[AccountTrade], pending: bool = False) -> Json:
        """One order as POST /orders (`pending`: as accepted), GET /orders and /orders/{id} return it."""
        symbol = view.symbol
        body: Json = {
            "id": self.order_id(symbol, view.order_id),
            "price": self.price(symbol, view.price),
            "size": self.size(symbol, view.quantity),
            "product_id": symbol,
            "profile_id": self.profile_id,
            "side": side_word(view.side),
            "type": "limit",
            "time_in_force": view.time_in_force,
            "post_only": view.order_type == "LIMIT_MAKER",
            "created_at": iso_ms(view.time_ms),
        }
        if pending:
            filled, fees, value, status = 0, 0, 0, "pending"
        else:
            filled = view.executed
            fees = sum(trade.commission for trade in fills)
            value = view.cumulative_quote
            status = "open" if view.is_open else "done"
        body.update(
            {
                "fill_fees": self.amount(fees),
                "filled_size": self.size(symbol, filled),
                "executed_value": self.amount(value),
                "status": status,
                "settled": status == "done",
            }
        )
        if status == "done":
            body["done_at"] = iso_ms(view.update_time_ms)
            body["done_reason"] = "filled" if view.status is OrderStatus.FILLED else "canceled"
        client_oid = self.client_oid(view.client_order_id)
        if client_oid:
            body["client_oid"] = client_oid
        return body

    def fill(self, trade: AccountTrade) -> Json:
        symbol = trade.symbol
        return {
            "created_at": iso_ms(trade.time_ms),
            "trade_id": trade.trade_id,
            "product_id": symbol,
            "order_id": self.order_id(symbol, trade.order_id),
            "user_id": self.user_id,
            "profile_id": self.profile_id,
            "liquidity": "M" if trade.is_maker else "T",
            "price": self.price(symbol, trade.price),
            "size": self.size(symbol, trade.quantity),
            "fee": self.amount(trade.commission),
            "side": "buy" if trade.is_buyer else "sell",
            "settled": True,
            "usd_volume": self.amount(trade.quote_quantity),
        }

    def account(self, balance: Balance) -> Json:
        digest = hashlib.blake2b(f"account:{self.profile_id}:{balance.asset}".encode(), digest_size=16)
        return {
            "id": str(uuid.UUID(bytes=digest.digest(), version=4)),
            "currency": balance.asset,
            "balance": self.amount(balance.free + balance.locked),
            "hold": self.amount(balance.locked),
            "available": self.amount(balance.free),
            "profile_id": self.profile_id,
            "trading_enabled": True,
        }
