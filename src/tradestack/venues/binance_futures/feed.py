"""USD-M market data: the spot feed (venues/binance/feed.py) with futures' sequencing and trades.

Depth diffs are chained by `pu` (SequenceRules.FUTURES: a diff whose pu is not the last u is a gap,
and resyncs that symbol alone); trades come from `<symbol>@aggTrade` (USD-M has no `@trade`); the
snapshot is GET /fapi/v1/depth through the futures gateway.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, TradeHandler
from tradestack.venues._shared.ws_session import SessionConfig, StreamSpec, WsSession
from tradestack.venues.binance.book_sync import BinanceBookSync, SequenceRules, TickerCrossCheck
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedSettings
from tradestack.venues.binance.session import CombinedStreams
from tradestack.venues.binance_futures.rest_gateway import BinanceFuturesRestGateway

SNAPSHOT_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # the depths /fapi/v1/depth serves


class BinanceFuturesMarketFeed(BinanceMarketFeed):
    def __init__(
        self,
        ws_base: str,
        instruments: Mapping[str, Instrument],
        gateway: BinanceFuturesRestGateway,
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: FeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or FeedSettings()
        # the deepest snapshot futures serve that is not deeper than asked
        limit = max([d for d in SNAPSHOT_LIMITS if d <= settings.snapshot_limit] or [SNAPSHOT_LIMITS[0]])
        settings = FeedSettings(
            staleness_s=settings.staleness_s,
            ping_idle_s=settings.ping_idle_s,
            pong_timeout_s=settings.pong_timeout_s,
            backoff_initial_s=settings.backoff_initial_s,
            backoff_max_s=settings.backoff_max_s,
            snapshot_limit=limit,
        )
        super().__init__(ws_base, instruments, gateway, clock, on_book, on_trade, settings, observer, rng)
        self.syncs = {symbol: BinanceBookSync(symbol, SequenceRules.FUTURES) for symbol in instruments}
        self.crosschecks = {symbol: TickerCrossCheck(sync) for symbol, sync in self.syncs.items()}
        streams = []
        for symbol in instruments:
            name = symbol.lower()
            streams.append(StreamSpec(self._depth_stream[symbol], stale_after_s=self.settings.staleness_s))
            streams.append(StreamSpec(f"{name}@bookTicker"))
            streams.append(StreamSpec(f"{name}@aggTrade"))
        self.session = WsSession(  # replaces the spot session built above, before anything started
            CombinedStreams(ws_base),
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s, rng=self._rng),
            config=SessionConfig(
                "binance-futures-market",
                ping_idle_s=self.settings.ping_idle_s,
                pong_timeout_s=self.settings.pong_timeout_s,
            ),
            on_reconnected=self._on_reconnected,
        )
