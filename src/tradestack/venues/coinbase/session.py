"""Coinbase Exchange ws-feed dialect for the shared session: one URL, `subscribe` by channel and product.

Streams are named `<channel>:<product_id>` ("level2_batch:BTC-USD", "matches:BTC-USD",
"heartbeat:BTC-USD"). Every connect sends one `subscribe` with `product_ids` and `channels`; with a
signer it is the authenticated subscribe (`signature`, `key`, `passphrase`, `timestamp` over
`GET /users/self/verify`, auth.py), which the `user` and `level2` channels need (`level2_batch`,
`matches`, `heartbeat` are public). Coinbase closes a connection that has not subscribed within 5 s;
the subscribe goes right after the handshake.
A frame is attributed to its stream from its leading `{"type":"..."` and its `"product_id":"..."`
without parsing the rest. Keep-alive: the `heartbeat` channel (one message a second per product,
with the product's `sequence` and `last_trade_id`) is the liveness signal the staleness bound
watches; WebSocket pings are answered by Coinbase as well and are kept as a second check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner, exchange_timestamp

WS_URL: Final = "wss://ws-feed.exchange.coinbase.com"
_TYPE = b'{"type":"'
_PRODUCT = b'"product_id":"'
_CHANNEL_OF_TYPE: Final = {
    b"l2update": "book",
    b"snapshot": "book",
    b"heartbeat": "heartbeat",
    b"match": "matches",
    b"last_match": "matches",
    b"ticker": "ticker",
}


def stream_name(channel: str, product_id: str) -> str:
    return f"{channel}:{product_id}"


def subscription(
    kind: str,
    product_ids: Sequence[str],
    channels: Sequence[str],
    signer: CoinbaseExchangeSigner | None = None,
    venue_time_ns: Callable[[], int] | None = None,
) -> bytes:
    """A `subscribe`/`unsubscribe` frame; signed when a signer is given (subscribe only)."""
    if kind == "subscribe" and signer is not None and venue_time_ns is not None:
        return signer.websocket_subscribe(exchange_timestamp(venue_time_ns()), product_ids, channels)
    return msgspec.json.encode({"type": kind, "product_ids": list(product_ids), "channels": list(channels)})


def grouped(streams: Sequence[str]) -> dict[tuple[str, ...], list[str]]:
    """Streams -> {product ids: channels}: one subscribe per distinct product set."""
    by_channel: dict[str, list[str]] = {}
    for name in streams:
        channel, _, product = name.partition(":")
        by_channel.setdefault(channel, []).append(product)
    groups: dict[tuple[str, ...], list[str]] = {}
    for channel, products in by_channel.items():
        groups.setdefault(tuple(products), []).append(channel)
    return groups


class FeedChannels:
    """The market-data dialect. `book_channel` is `level2_batch` (public) or `level2` (signed)."""

    def __init__(
        self,
        url: str = WS_URL,
        book_channel: str = "level2_batch",
        signer: CoinbaseExchangeSigner | None = None,
        venue_time_ns: Callable[[], int] | None = None,
    ) -> None:
        self._url = url
        self.book_channel = book_channel
        self._signer = signer
        self._venue_time_ns = venue_time_ns

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return [
            subscription("subscribe", products, channels, self._signer, self._venue_time_ns)
            for products, channels in grouped(streams).items()
        ]

    def stream_of(self, payload: bytes) -> str | None:
        return _stream_of(payload, self.book_channel)


class UserChannels:
    """The private dialect: a signed subscribe to `user` (and `heartbeat`) for the products."""

    def __init__(
        self,
        url: str,
        signer: CoinbaseExchangeSigner,
        venue_time_ns: Callable[[], int],
        products: Sequence[str],
    ) -> None:
        self._url = url
        self._signer = signer
        self._venue_time_ns = venue_time_ns
        self._products = list(products)

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        channels = [name for name in streams]
        return [subscription("subscribe", self._products, channels, self._signer, self._venue_time_ns)]

    def stream_of(self, payload: bytes) -> str | None:
        if payload.startswith(b'{"type":"heartbeat"'):
            return "heartbeat"
        return None


def _stream_of(payload: bytes, book_channel: str) -> str | None:
    if not payload.startswith(_TYPE):
        return None
    start = len(_TYPE)
    end = payload.find(b'"', start)
    if end < 0:
        return None
    channel = _CHANNEL_OF_TYPE.get(payload[start:end])
    if channel is None:
        return None
    at = payload.find(_PRODUCT, end)
    if at < 0:
        return None
    product_start = at + len(_PRODUCT)
    product_end = payload.find(b'"', product_start)
    if product_end < 0:
        return None
    product = payload[product_start:product_end].decode()
    return f"{book_channel if channel == 'book' else channel}:{product}"
