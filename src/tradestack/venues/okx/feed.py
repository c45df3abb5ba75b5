"""OKX market data for a set of instruments: one resilient public session, one synchronized book each.

Channels `books` (snapshot on subscribe, then updates chained by seqId/prevSeqId with a CRC32 checksum;
book_sync.py) and `trades`. Frames are parsed and applied synchronously in the socket callback. A gap,
a checksum mismatch or a crossed book resyncs that instrument alone: its book is flagged unsynced and
its `books` subscription is renewed (unsubscribe + subscribe), which makes OKX send a fresh snapshot.
A reconnect resyncs every book. Keep-alive: the text `ping` after `ping_idle_s` without data (OKX
drops a connection silent for 30 s); per-instrument staleness on the `books` stream.

The callbacks are BinanceMarketFeed's: on_book(symbol, OrderBook, synced, ts_recv), on_trade(TradePrint).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.dialect_feed import DialectFeed, book_and_trade_streams
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, TradeHandler
from tradestack.venues.okx.book_sync import OkxBookSync, SyncState
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser
from tradestack.venues.okx.session import PING, PONG, PUBLIC_URL, PublicChannels, stream_name, subscription


@dataclass(frozen=True, slots=True)
class OkxFeedSettings:
    staleness_s: float | None = 30.0  # `books` pushes only on change: a quiet book may be silent a while
    ping_idle_s: float = 20.0  # below OKX's 30 s
    pong_timeout_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    trades: bool = True


class OkxMarketFeed(DialectFeed[OkxFeedSettings, OkxBookSync, OkxBookUpdate]):
    _VENUE = "okx"
    _UNIT = "instrument"
    _SYNCED = SyncState.SYNCED

    def __init__(
        self,
        ws_url: str,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: OkxFeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or OkxFeedSettings()
        books = {symbol: stream_name("books", symbol) for symbol in instruments}
        super().__init__(
            instruments,
            clock,
            on_book,
            on_trade,
            settings,
            observer,
            rng,
            channels=PublicChannels(ws_url or PUBLIC_URL),
            streams=book_and_trade_streams(books, lambda symbol: stream_name("trades", symbol), settings),
            book_stream=books,
            parser=OkxMarketParser(instruments),
            syncs={symbol: OkxBookSync(symbol) for symbol in instruments},
            book_message=OkxBookUpdate,
            apply=OkxBookSync.on_message,
            text_ping=PING,  # OKX drops a connection silent for 30 s; its keep-alive is the text `ping`
            text_pong=PONG,
        )

    def _synced_fields(self, sync: OkxBookSync, message: OkxBookUpdate) -> dict[str, object]:
        return {"seq_id": sync.last_seq_id}

    def _gap_fields(self, sync: OkxBookSync, message: OkxBookUpdate) -> dict[str, object]:
        counters = sync.counters
        return {
            "seq_id": message.seq_id,
            "prev_seq_id": message.prev_seq_id,
            "checksum_failed": counters.checksum_failed,
            "crossed": counters.crossed,
        }

    def _book_subscription(self, op: str, symbol: str) -> list[bytes]:
        # OKX sends a fresh snapshot on (re)subscribing to `books`
        return [subscription(op, [self._book_stream[symbol]])]
