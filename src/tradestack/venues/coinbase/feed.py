"""Coinbase Exchange market data for a set of products: one resilient ws-feed session, one book each.

Channels: `level2_batch` (public; or `level2` with a signer: Coinbase requires authentication for
it) gives a `snapshot` on subscribe, then `l2update`s of absolute sizes; `matches` (a `last_match` on
subscribe, then every trade with the product's contiguous `trade_id`); `heartbeat` (every second,
the product's `sequence` and `last_trade_id`). level2 has no sequence of its own, so what is checked
(book_sync.py and here): a `trade_id` gap in `matches`, a heartbeat whose `last_trade_id` is past the
last match seen (matches were lost), a `sequence` going back (matches, heartbeat), a crossed book.
Any of them resyncs that product alone: its book is flagged unsynced, its continuity forgotten, and
its level2 and matches subscriptions renewed (unsubscribe + subscribe), which makes Coinbase send a
fresh snapshot and last_match. A reconnect resyncs every book.
Keep-alive: the heartbeat stream of each product has a staleness bound (Coinbase sends one every
second, busy or quiet); WebSocket pings after `ping_idle_s` of silence as well.

The callbacks are BinanceMarketFeed's: on_book(symbol, OrderBook, synced, ts_recv), on_trade(TradePrint).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import Malformed
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.dialect_feed import DialectFeed
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, TradeHandler
from tradestack.venues._shared.ws_session import Reconnected, StreamSpec
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner
from tradestack.venues.coinbase.book_sync import CoinbaseBookSync, SyncState
from tradestack.venues.coinbase.heartbeat import PREFIX as HEARTBEAT_PREFIX
from tradestack.venues.coinbase.heartbeat import parse_heartbeat
from tradestack.venues.coinbase.messages import CoinbaseBookUpdate, CoinbaseTradePrint
from tradestack.venues.coinbase.parse import CoinbaseMarketParser
from tradestack.venues.coinbase.session import WS_URL, FeedChannels, stream_name, subscription


@dataclass(frozen=True, slots=True)
class CoinbaseFeedSettings:
    staleness_s: float | None = 5.0  # heartbeats come every second per product
    ping_idle_s: float = 20.0
    pong_timeout_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    trades: bool = True  # `matches`: trade prints, and the trade-id continuity check
    book_channel: str = "level2_batch"  # "level2" needs a signer


class CoinbaseMarketFeed(DialectFeed[CoinbaseFeedSettings, CoinbaseBookSync, CoinbaseBookUpdate]):
    _VENUE = "coinbase"
    _UNIT = "product"
    _SYNCED = SyncState.SYNCED

    def __init__(
        self,
        ws_url: str,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: CoinbaseFeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
        *,
        signer: CoinbaseExchangeSigner | None = None,
        venue_time_ns: Callable[[], int] | None = None,
    ) -> None:
        settings = settings or CoinbaseFeedSettings()
        if settings.book_channel == "level2" and signer is None:
            raise ValueError("Coinbase's level2 channel needs an authenticated subscribe: pass a signer")
        self.heartbeat_gaps: dict[str, int] = dict.fromkeys(instruments, 0)
        self.heartbeats = 0
        self._heartbeat_sequence: dict[str, int] = {}
        book = settings.book_channel
        self._heartbeat_stream = {symbol: stream_name("heartbeat", symbol) for symbol in instruments}
        self._resync_channels = [book, "matches"] if settings.trades else [book]
        self._signer = signer
        self._venue_time_ns = venue_time_ns or clock.now_ns
        books = {symbol: stream_name(book, symbol) for symbol in instruments}
        # level2 is silent while a book is quiet; the heartbeat stream, every second, bounds staleness
        streams = []
        for symbol in instruments:
            streams.append(StreamSpec(books[symbol]))
            streams.append(StreamSpec(self._heartbeat_stream[symbol], stale_after_s=settings.staleness_s))
            if settings.trades:
                streams.append(StreamSpec(stream_name("matches", symbol)))
        super().__init__(
            instruments,
            clock,
            on_book,
            on_trade,
            settings,
            observer,
            rng,
            channels=FeedChannels(ws_url or WS_URL, book, signer, self._venue_time_ns),
            streams=streams,
            book_stream=books,
            parser=CoinbaseMarketParser(instruments),
            syncs={symbol: CoinbaseBookSync(symbol) for symbol in instruments},
            book_message=CoinbaseBookUpdate,
            apply=CoinbaseBookSync.on_book,
        )

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None:
        """How long ago the product's book or heartbeat stream last delivered a frame (a heartbeat
        says the book is current: nothing was lost up to it); None before the first."""
        last_data = self.session.last_data_ns
        seen = [
            last
            for last in (
                last_data.get(self._book_stream[symbol]),
                last_data.get(self._heartbeat_stream[symbol]),
            )
            if last is not None
        ]
        return now_mono_ns - max(seen) if seen else None

    # -- the hot path: heartbeats and matches besides the book ----------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        if payload.startswith(HEARTBEAT_PREFIX):
            self._on_heartbeat(payload)
            return
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, CoinbaseBookUpdate):
                self._on_book_message(event, ts_recv)
            elif isinstance(event, CoinbaseTradePrint):
                self._on_match(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_match(self, trade: CoinbaseTradePrint) -> None:
        sync = self.syncs.get(trade.symbol)
        if sync is None:
            return
        was_synced = sync.state is SyncState.SYNCED
        decision = sync.on_trade(trade)
        if decision is Decision.APPLY and not trade.last_match:
            self.on_trade(trade)
        elif decision is Decision.GAP:
            if not trade.last_match:
                self.on_trade(trade)  # the trade happened; the book is what was lost
            self._resync(trade.symbol, was_synced, trade.ts_recv, f"trade id gap at {trade.trade_id}")

    def _on_heartbeat(self, payload: bytes) -> None:
        heartbeat = parse_heartbeat(payload)
        if heartbeat is None:
            self._malformed(Malformed("heartbeat: undecodable", payload[:200], 0))
            return
        symbol = heartbeat.product_id
        sync = self.syncs.get(symbol)
        if sync is None:
            return
        self.heartbeats += 1
        last_sequence = self._heartbeat_sequence.get(symbol)
        self._heartbeat_sequence[symbol] = heartbeat.sequence
        reason = ""
        if last_sequence is not None and heartbeat.sequence < last_sequence:
            reason = f"heartbeat sequence went back to {heartbeat.sequence}"
        elif (
            self.settings.trades
            and sync.last_trade_id is not None
            and heartbeat.last_trade_id > sync.last_trade_id
        ):
            reason = f"heartbeat last_trade_id {heartbeat.last_trade_id} > last match {sync.last_trade_id}"
        if reason:
            self.heartbeat_gaps[symbol] += 1
            self._resync(symbol, sync.state is SyncState.SYNCED, 0, reason)

    # -- resync: the book, its trade-id base and heartbeat sequence together --------------------------
    def _gap_fields(self, sync: CoinbaseBookSync, message: CoinbaseBookUpdate) -> dict[str, object]:
        return {"reason": "crossed book"}  # level2 has no sequence: a crossed book is its only gap

    def _resync(self, symbol: str, was_synced: bool, ts_recv: int, reason: str) -> None:
        self._out_of_sync(symbol, self.syncs[symbol], was_synced, ts_recv, {"reason": reason})

    def _out_of_sync(
        self,
        symbol: str,
        sync: CoinbaseBookSync,
        was_synced: bool,
        ts_recv: int,
        fields: Mapping[str, object],
    ) -> None:
        sync.restart()  # its continuity too: the renewed matches bring a new last_match
        self._heartbeat_sequence.pop(symbol, None)
        super()._out_of_sync(symbol, sync, was_synced, ts_recv, fields)

    def _book_subscription(self, op: str, symbol: str) -> list[bytes]:
        # Coinbase sends a fresh snapshot and last_match on (re)subscribing to level2 and matches
        if op == "subscribe":
            return [subscription(op, [symbol], self._resync_channels, self._signer, self._venue_time_ns)]
        return [subscription(op, [symbol], self._resync_channels)]

    def _on_reconnected(self, event: Reconnected) -> None:
        self._heartbeat_sequence.clear()
        super()._on_reconnected(event)
