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

import structlog

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, FeedObserver, TradeHandler
from tradestack.venues._shared.ws_session import Reconnected, SessionConfig, StreamSpec, WsSession
from tradestack.venues.okx.book_sync import OkxBookSync, SyncState
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser
from tradestack.venues.okx.session import PING, PONG, PUBLIC_URL, PublicChannels, stream_name, subscription

log = structlog.get_logger("tradestack.okx.feed")


@dataclass(frozen=True, slots=True)
class OkxFeedSettings:
    staleness_s: float | None = 30.0  # `books` pushes only on change: a quiet book may be silent a while
    ping_idle_s: float = 20.0  # below OKX's 30 s
    pong_timeout_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    trades: bool = True


class OkxMarketFeed:
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
        self.instruments = instruments
        self.settings = settings or OkxFeedSettings()
        self.observer: FeedHooks = observer or FeedObserver()
        self.on_book = on_book
        self.on_trade = on_trade
        self.parser = OkxMarketParser(instruments)
        self.syncs = {symbol: OkxBookSync(symbol) for symbol in instruments}
        self.resubscriptions: dict[str, int] = dict.fromkeys(instruments, 0)
        self._malformed_seen: dict[str, int] = {}
        self._books_stream = {symbol: stream_name("books", symbol) for symbol in instruments}
        streams = []
        for symbol in instruments:
            streams.append(StreamSpec(self._books_stream[symbol], stale_after_s=self.settings.staleness_s))
            if self.settings.trades:
                streams.append(StreamSpec(stream_name("trades", symbol)))
        self.session = WsSession(
            PublicChannels(ws_url or PUBLIC_URL),
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(
                self.settings.backoff_initial_s, self.settings.backoff_max_s, rng=rng or random.Random()
            ),
            config=SessionConfig(
                "okx-market",
                ping_idle_s=self.settings.ping_idle_s,
                pong_timeout_s=self.settings.pong_timeout_s,
                text_ping=PING,
                text_pong=PONG,
            ),
            on_reconnected=self._on_reconnected,
        )

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self.session.stop()

    def synced(self, symbol: str) -> bool:
        return self.syncs[symbol].state is SyncState.SYNCED

    def all_synced(self) -> bool:
        return all(sync.state is SyncState.SYNCED for sync in self.syncs.values())

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None:
        """How long ago the symbol's `books` stream last delivered a frame; None before the first."""
        last = self.session.last_data_ns.get(self._books_stream[symbol])
        return None if last is None else now_mono_ns - last

    # -- the hot path ---------------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, OkxBookUpdate):
                self._on_book_message(event, ts_recv)
            elif isinstance(event, TradePrint):
                self.on_trade(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_book_message(self, message: OkxBookUpdate, ts_recv: int) -> None:
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
                log.info("book synced", symbol=symbol, seq_id=sync.last_seq_id)
            self.on_book(symbol, sync.book, True, ts_recv)
        elif decision is Decision.GAP:
            counters = sync.counters
            log.warning(
                "book out of sync: resyncing instrument",
                symbol=symbol,
                seq_id=message.seq_id,
                prev_seq_id=message.prev_seq_id,
                checksum_failed=counters.checksum_failed,
                crossed=counters.crossed,
            )
            self.observer.gap(symbol)
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, ts_recv)
            self._resubscribe(symbol)

    def _resubscribe(self, symbol: str) -> None:
        """A fresh snapshot for one instrument: OKX sends it on (re)subscribing to its `books`."""
        stream = [self._books_stream[symbol]]
        if self.session.send(subscription("unsubscribe", stream)):
            self.session.send(subscription("subscribe", stream))
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
        log.info("okx market data reconnected: resyncing every book", reason=str(event.reason))
        for symbol, sync in self.syncs.items():
            was_synced = sync.state is SyncState.SYNCED
            sync.restart()
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, 0)
