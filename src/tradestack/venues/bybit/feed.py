"""Bybit v5 spot market data for a set of instruments: one resilient public session, one book each.

Topics `orderbook.50.<symbol>` (a snapshot on subscribe, then deltas chained by `u`; book_sync.py)
and `publicTrade.<symbol>`. Frames are parsed and applied synchronously in the socket callback. A gap
or a crossed book resyncs that symbol alone: its book is flagged unsynced and its orderbook topic is
renewed (unsubscribe + subscribe), which makes Bybit send a fresh snapshot. A reconnect resyncs every
book. Keep-alive: protocol pings, and `{"op":"ping"}` every 20 s (session.py); per-symbol staleness
on the orderbook topic.

The callbacks are the other feeds': on_book(symbol, OrderBook, synced, ts_recv), on_trade(TradePrint).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.dialect_feed import DialectFeed, book_and_trade_streams
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, TradeHandler
from tradestack.venues.bybit.book_sync import BybitBookSync, SyncState
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser
from tradestack.venues.bybit.session import APP_PING_S, PUBLIC_URL, AppPing, PublicChannels, subscription

DEPTH = 50


def book_topic(symbol: str) -> str:
    return f"orderbook.{DEPTH}.{symbol}"


@dataclass(frozen=True, slots=True)
class BybitFeedSettings:
    staleness_s: float | None = 30.0  # deltas only on change: a quiet book may be silent a while
    ping_idle_s: float = 10.0
    pong_timeout_s: float = 5.0
    app_ping_s: float = APP_PING_S
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    trades: bool = True


class BybitMarketFeed(DialectFeed[BybitFeedSettings, BybitBookSync, BybitBookUpdate]):
    _VENUE = "bybit"
    _UNIT = "symbol"
    _SYNCED = SyncState.SYNCED

    def __init__(
        self,
        ws_url: str,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: BybitFeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or BybitFeedSettings()
        books = {symbol: book_topic(symbol) for symbol in instruments}
        super().__init__(
            instruments,
            clock,
            on_book,
            on_trade,
            settings,
            observer,
            rng,
            channels=PublicChannels(ws_url or PUBLIC_URL),
            streams=book_and_trade_streams(books, lambda symbol: f"publicTrade.{symbol}", settings),
            book_stream=books,
            parser=BybitMarketParser(instruments),
            syncs={symbol: BybitBookSync(symbol) for symbol in instruments},
            book_message=BybitBookUpdate,
            apply=BybitBookSync.on_message,
        )
        self._app_ping = AppPing(self.session, self.settings.app_ping_s)

    async def start(self) -> None:
        await super().start()
        self._app_ping.start()

    async def stop(self) -> None:
        await self._app_ping.stop()
        await super().stop()

    def _synced_fields(self, sync: BybitBookSync, message: BybitBookUpdate) -> dict[str, object]:
        return {"update_id": sync.last_update_id}

    def _gap_fields(self, sync: BybitBookSync, message: BybitBookUpdate) -> dict[str, object]:
        return {"update_id": message.update_id, "crossed": sync.counters.crossed}

    def _book_subscription(self, op: str, symbol: str) -> list[bytes]:
        # Bybit sends a fresh snapshot on (re)subscribing to the orderbook topic
        return subscription(op, [book_topic(symbol)])
