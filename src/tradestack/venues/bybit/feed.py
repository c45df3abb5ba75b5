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

import structlog

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, FeedObserver, TradeHandler
from tradestack.venues._shared.ws_session import Reconnected, SessionConfig, StreamSpec, WsSession
from tradestack.venues.bybit.book_sync import BybitBookSync, SyncState
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser
from tradestack.venues.bybit.session import APP_PING_S, PUBLIC_URL, AppPing, PublicChannels, subscription

log = structlog.get_logger("tradestack.bybit.feed")

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


class BybitMarketFeed:
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
        self.instruments = instruments
        self.settings = settings or BybitFeedSettings()
        self.observer: FeedHooks = observer or FeedObserver()
        self.on_book = on_book
        self.on_trade = on_trade
        self.parser = BybitMarketParser(instruments)
        self.syncs = {symbol: BybitBookSync(symbol) for symbol in instruments}
        self.resubscriptions: dict[str, int] = dict.fromkeys(instruments, 0)
        self._malformed_seen: dict[str, int] = {}
        streams = []
        for symbol in instruments:
            streams.append(StreamSpec(book_topic(symbol), stale_after_s=self.settings.staleness_s))
            if self.settings.trades:
                streams.append(StreamSpec(f"publicTrade.{symbol}"))
        self.session = WsSession(
            PublicChannels(ws_url or PUBLIC_URL),
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(
                self.settings.backoff_initial_s, self.settings.backoff_max_s, rng=rng or random.Random()
            ),
            config=SessionConfig(
                "bybit-market",
                ping_idle_s=self.settings.ping_idle_s,
                pong_timeout_s=self.settings.pong_timeout_s,
            ),
            on_reconnected=self._on_reconnected,
        )
        self._app_ping = AppPing(self.session, self.settings.app_ping_s)

    async def start(self) -> None:
        await self.session.start()
        self._app_ping.start()

    async def stop(self) -> None:
        await self._app_ping.stop()
        await self.session.stop()

    def synced(self, symbol: str) -> bool:
        return self.syncs[symbol].state is SyncState.SYNCED

    def all_synced(self) -> bool:
        return all(sync.state is SyncState.SYNCED for sync in self.syncs.values())

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None:
        """How long ago the symbol's orderbook topic last delivered a frame; None before the first."""
        last = self.session.last_data_ns.get(book_topic(symbol))
        return None if last is None else now_mono_ns - last

    # -- the hot path ---------------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, BybitBookUpdate):
                self._on_book_message(event, ts_recv)
            elif isinstance(event, TradePrint):
                self.on_trade(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_book_message(self, message: BybitBookUpdate, ts_recv: int) -> None:
        symbol = message.symbol
        sync = self.syncs.get(symbol)
        if sync is None:
            return
        self.observer.market_data(symbol, ts_recv)
        was_synced = sync.state is SyncState.SYNCED
        decision = sync.on_message(message)
        if decision is Decision.APPLY:
            if not was_synced:
                self.observer.synced(symbol, True)
                log.info("book synced", symbol=symbol, update_id=sync.last_update_id)
            self.on_book(symbol, sync.book, True, ts_recv)
        elif decision is Decision.GAP:
            log.warning(
                "book out of sync: resyncing symbol",
                symbol=symbol,
                update_id=message.update_id,
                crossed=sync.counters.crossed,
            )
            self.observer.gap(symbol)
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, ts_recv)
            self._resubscribe(symbol)

    def _resubscribe(self, symbol: str) -> None:
        """A fresh snapshot for one symbol: Bybit sends it on (re)subscribing to its orderbook topic."""
        topic = [book_topic(symbol)]
        if all(self.session.send(frame) for frame in subscription("unsubscribe", topic)):
            for frame in subscription("subscribe", topic):
                self.session.send(frame)
            self.resubscriptions[symbol] += 1
        # not connected: the reconnect subscribes again, and resyncs every book anyway

    def _malformed(self, event: Malformed) -> None:
        """Counted every time; logged once per reason with a sample, so a bad stream cannot flood logs."""
        self.observer.malformed(event.reason)
        count = self._malformed_seen.get(event.reason, 0) + 1
        self._malformed_seen[event.reason] = count
        if count == 1:
            log.warning("malformed market frame dropped", reason=event.reason, sample=event.sample[:200])

    def _on_reconnected(self, event: Reconnected) -> None:
        log.info("bybit market data reconnected: resyncing every book", reason=str(event.reason))
        for symbol, sync in self.syncs.items():
            was_synced = sync.state is SyncState.SYNCED
            sync.restart()
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, 0)
