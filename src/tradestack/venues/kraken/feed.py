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

import structlog

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, FeedObserver, TradeHandler
from tradestack.venues._shared.ws_session import Reconnected, SessionConfig, StreamSpec, WsSession
from tradestack.venues.kraken.book_sync import KrakenBookSync, SyncState
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import KrakenMarketParser
from tradestack.venues.kraken.session import BOOK_DEPTH, PUBLIC_URL, PublicChannels, stream_name, subscription

log = structlog.get_logger("tradestack.kraken.feed")

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


class KrakenMarketFeed:
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
        self.instruments = instruments
        self.settings = settings or KrakenFeedSettings()
        self.observer: FeedHooks = observer or FeedObserver()
        self.on_book = on_book
        self.on_trade = on_trade
        self.parser = KrakenMarketParser(instruments)
        self.syncs = {symbol: KrakenBookSync(symbol, self.settings.depth) for symbol in instruments}
        self.resubscriptions: dict[str, int] = dict.fromkeys(instruments, 0)
        self._malformed_seen: dict[str, int] = {}
        self._book_stream = {symbol: stream_name("book", symbol) for symbol in instruments}
        streams = []
        for symbol in instruments:
            streams.append(StreamSpec(self._book_stream[symbol], stale_after_s=self.settings.staleness_s))
            if self.settings.trades:
                streams.append(StreamSpec(stream_name("trade", symbol)))
        self.session = WsSession(
            PublicChannels(ws_url or PUBLIC_URL, self.settings.depth),
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(
                self.settings.backoff_initial_s, self.settings.backoff_max_s, rng=rng or random.Random()
            ),
            config=SessionConfig(
                "kraken-market",
                ping_idle_s=self.settings.ping_idle_s,
                pong_timeout_s=self.settings.pong_timeout_s,
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
        """How long ago the pair's `book` stream last delivered a frame; None before the first."""
        last = self.session.last_data_ns.get(self._book_stream[symbol])
        return None if last is None else now_mono_ns - last

    # -- the hot path ---------------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        if payload.startswith(_PONG):
            return  # an answer to a `ping` method: nothing to apply
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, KrakenBookUpdate):
                self._on_book_message(event, ts_recv)
            elif isinstance(event, TradePrint):
                self.on_trade(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_book_message(self, message: KrakenBookUpdate, ts_recv: int) -> None:
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
                log.info("book synced", symbol=symbol, checksum=message.checksum)
            self.on_book(symbol, sync.book, True, ts_recv)
        elif decision is Decision.GAP:
            counters = sync.counters
            log.warning(
                "book out of sync: resyncing pair",
                symbol=symbol,
                checksum=message.checksum,
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
        """A fresh snapshot for one pair: Kraken sends it on (re)subscribing to its `book`."""
        stream = [self._book_stream[symbol]]
        sent = all(self.session.send(message) for message in subscription("unsubscribe", stream))
        if sent:
            for message in subscription("subscribe", stream, self.settings.depth):
                self.session.send(message)
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
        log.info("kraken market data reconnected: resyncing every book", reason=str(event.reason))
        for symbol, sync in self.syncs.items():
            was_synced = sync.state is SyncState.SYNCED
            sync.restart()
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, 0)
