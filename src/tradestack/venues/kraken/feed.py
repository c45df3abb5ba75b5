"""Kraken market data for a set of pairs: one resilient WebSocket v2 session, one checked book each.

Channels `book` (depth 10: a snapshot on subscribe, then updates, each with the CRC32 checksum of the
top 10; book_sync.py) and `trade`. Frames are parsed and applied synchronously in the socket callback.
A checksum mismatch or a crossed book resyncs that pair alone: its book is flagged unsynced and its
`book` subscription renewed (unsubscribe + subscribe), which makes Kraken send a fresh snapshot. A
reconnect resubscribes everything and resyncs every book. Keep-alive: Kraken's `heartbeat` every
second and protocol pings; per-pair staleness on the `book` stream.

The callbacks are the other venues' feeds': on_book(symbol, OrderBook, synced, ts_recv), on_trade.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.dialect_feed import DialectFeed, book_and_trade_streams
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, TradeHandler
from tradestack.venues.kraken.book_sync import KrakenBookSync, SyncState
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import KrakenMarketParser
from tradestack.venues.kraken.session import BOOK_DEPTH, PUBLIC_URL, PublicChannels, stream_name, subscription

_PONG = b'{"method":"pong"'


@dataclass(frozen=True, slots=True)
class KrakenFeedSettings:
    staleness_s: float | None = 30.0  # `book` pushes only on change; heartbeats keep the socket alive
    ping_idle_s: float = 10.0
    pong_timeout_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    trades: bool = True
    depth: int = BOOK_DEPTH


class KrakenMarketFeed(DialectFeed[KrakenFeedSettings, KrakenBookSync, KrakenBookUpdate]):
    _VENUE = "kraken"
    _UNIT = "pair"
    _SYNCED = SyncState.SYNCED

    def __init__(
        self,
        ws_url: str,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: KrakenFeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or KrakenFeedSettings()
        books = {symbol: stream_name("book", symbol) for symbol in instruments}
        super().__init__(
            instruments,
            clock,
            on_book,
            on_trade,
            settings,
            observer,
            rng,
            channels=PublicChannels(ws_url or PUBLIC_URL, settings.depth),
            streams=book_and_trade_streams(books, lambda symbol: stream_name("trade", symbol), settings),
            book_stream=books,
            parser=KrakenMarketParser(instruments),
            syncs={symbol: KrakenBookSync(symbol, settings.depth) for symbol in instruments},
            book_message=KrakenBookUpdate,
            apply=KrakenBookSync.on_message,
        )

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        if payload.startswith(_PONG):  # an answer to a `ping` method: nothing to apply
            self.observer.frames(1)
            return
        DialectFeed._on_frame(self, payload, ts_recv)  # not super(): on 3.11 that allocates per frame

    def _synced_fields(self, sync: KrakenBookSync, message: KrakenBookUpdate) -> dict[str, object]:
        return {"checksum": message.checksum}

    def _gap_fields(self, sync: KrakenBookSync, message: KrakenBookUpdate) -> dict[str, object]:
        counters = sync.counters
        return {
            "checksum": message.checksum,
            "checksum_failed": counters.checksum_failed,
            "crossed": counters.crossed,
        }

    def _book_subscription(self, op: str, symbol: str) -> list[bytes]:
        # Kraken sends a fresh snapshot on (re)subscribing to `book`; both carry the configured depth
        # (an unsubscribe names the subscription it ends, depth included)
        return subscription(op, [self._book_stream[symbol]], self.settings.depth)
