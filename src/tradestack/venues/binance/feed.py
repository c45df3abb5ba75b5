"""Binance market data for a set of symbols: one resilient session, one synchronized book per symbol.

Frames are parsed and applied synchronously in the socket callback (the hot path); only snapshot
fetches are tasks. A gap, a crossed book or a reconnect resyncs the affected symbols alone, and while a
book resyncs the engine is told it is not synced, so nothing trades on it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import BestBidAsk, BookDelta, BookSnapshot, Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.errors import VenueError
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, FeedObserver, TradeHandler
from tradestack.venues._shared.malformed import MalformedFrames
from tradestack.venues._shared.ws_session import Reconnected, SessionConfig, StreamSpec, WsSession
from tradestack.venues.binance.book_sync import BinanceBookSync, SnapshotOutcome, SyncState, TickerCrossCheck
from tradestack.venues.binance.parse import BinanceMarketParser, MalformedMessage, exact_units
from tradestack.venues.binance.rest_gateway import BinanceRestGateway, Depth
from tradestack.venues.binance.session import CombinedStreams

log = structlog.get_logger("tradestack.binance.feed")


@dataclass(frozen=True, slots=True)
class FeedSettings:
    staleness_s: float = 5.0
    ping_idle_s: float = 10.0
    pong_timeout_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 10.0
    snapshot_limit: int = 1000


class BinanceMarketFeed:
    def __init__(
        self,
        ws_base: str,
        instruments: Mapping[str, Instrument],
        gateway: BinanceRestGateway,
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: FeedSettings | None = None,
        observer: FeedHooks | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.instruments = instruments
        self.gateway = gateway
        self.settings = settings or FeedSettings()
        self.observer: FeedHooks = observer or FeedObserver()
        self.on_book = on_book
        self.on_trade = on_trade
        self.parser = BinanceMarketParser(instruments)
        self.syncs = {symbol: BinanceBookSync(symbol) for symbol in instruments}
        self.crosschecks = {symbol: TickerCrossCheck(sync) for symbol, sync in self.syncs.items()}
        self._fetching: set[str] = set()
        self._malformed = MalformedFrames(self.observer.malformed, log)
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = rng or random.Random()
        streams = []
        self._depth_stream: dict[str, str] = {}
        for symbol in instruments:
            name = symbol.lower()
            self._depth_stream[symbol] = f"{name}@depth@100ms"
            streams.append(StreamSpec(self._depth_stream[symbol], stale_after_s=self.settings.staleness_s))
            streams.append(StreamSpec(f"{name}@bookTicker"))
            streams.append(StreamSpec(f"{name}@trade"))
        self.session = WsSession(
            CombinedStreams(ws_base),
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s, rng=self._rng),
            config=SessionConfig(
                "binance-market",
                ping_idle_s=self.settings.ping_idle_s,
                pong_timeout_s=self.settings.pong_timeout_s,
            ),
            on_reconnected=self._on_reconnected,
        )

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self.session.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def synced(self, symbol: str) -> bool:
        return self.syncs[symbol].state is SyncState.SYNCED

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None:
        """How long ago the symbol's depth stream last delivered a frame; None before the first."""
        last = self.session.last_data_ns.get(self._depth_stream[symbol])
        return None if last is None else now_mono_ns - last

    def all_synced(self) -> bool:
        return all(sync.state is SyncState.SYNCED for sync in self.syncs.values())

    # -- the hot path ---------------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, BookDelta):
                self._on_delta(event, ts_recv)
            elif isinstance(event, BestBidAsk):
                self.crosschecks[event.symbol].on_ticker(event)
            elif isinstance(event, TradePrint):
                self.on_trade(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_delta(self, delta: BookDelta, ts_recv: int) -> None:
        symbol = delta.symbol
        sync = self.syncs.get(symbol)
        if sync is None:
            return
        self.observer.market_data(symbol, ts_recv)
        decision = sync.on_delta(delta)
        if decision is Decision.APPLY:
            self.crosschecks[symbol].on_book_update()
            self.on_book(symbol, sync.book, True, ts_recv)
        elif decision is Decision.GAP:
            log.warning("book gap: resyncing symbol", symbol=symbol, first=delta.first_update_id)
            self.observer.gap(symbol)
            self.observer.resync(symbol)
            self._unsynced(symbol, ts_recv)
        elif sync.needs_snapshot:
            self._fetch_snapshot(symbol)

    def _unsynced(self, symbol: str, ts_recv: int) -> None:
        self.observer.synced(symbol, False)
        self.on_book(symbol, self.syncs[symbol].book, False, ts_recv)
        self._fetch_snapshot(symbol)

    def _on_reconnected(self, event: Reconnected) -> None:
        log.info("market data reconnected: resyncing every book", reason=str(event.reason))
        for symbol, sync in self.syncs.items():
            sync.restart()
            self.observer.resync(symbol)
            self._unsynced(symbol, 0)

    # -- snapshots ------------------------------------------------------------------------------------
    def _fetch_snapshot(self, symbol: str) -> None:
        if symbol in self._fetching:
            return
        self._fetching.add(symbol)
        task = asyncio.get_running_loop().create_task(self._snapshot_loop(symbol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _snapshot_loop(self, symbol: str) -> None:
        sync = self.syncs[symbol]
        backoff = Backoff(0.2, 5.0, rng=self._rng)
        try:
            while sync.needs_snapshot:
                # let a few diffs buffer first so the snapshot can be bracketed
                await asyncio.sleep(backoff.next_delay() if backoff.attempt else 0.05)
                if not sync.buffered:
                    continue
                try:
                    snapshot = await self._snapshot(symbol)
                except VenueError as error:
                    log.warning("depth snapshot failed", symbol=symbol, error=str(error))
                    continue
                except MalformedMessage as error:  # a body that is not a book: counted, fetched again
                    self.observer.malformed("depth_snapshot")
                    log.warning("malformed depth snapshot dropped", symbol=symbol, error=str(error)[:300])
                    continue
                outcome = sync.on_snapshot(snapshot)
                if outcome is SnapshotOutcome.SYNCED:
                    self.crosschecks[symbol].on_book_update()
                    self.observer.synced(symbol, True)
                    self.on_book(symbol, sync.book, True, snapshot.ts_recv)
                    log.info("book synced", symbol=symbol, update_id=sync.book.last_update_id)
        finally:
            self._fetching.discard(symbol)

    async def _snapshot(self, symbol: str) -> BookSnapshot:
        depth = await self.gateway.depth(symbol, self.settings.snapshot_limit)
        return snapshot_from_depth(self.instruments[symbol], depth)


def snapshot_from_depth(instrument: Instrument, depth: Depth) -> BookSnapshot:
    """A REST depth body -> BookSnapshot, exactly. Raises MalformedMessage for one that is not a book
    (a string that is not an unsigned decimal at the instrument's scale, a price of 0, a negative id)."""
    price_scale, size_scale = instrument.price_scale, instrument.size_scale
    try:
        bids = [(exact_units(p, price_scale), exact_units(q, size_scale)) for p, q in depth.bids]
        asks = [(exact_units(p, price_scale), exact_units(q, size_scale)) for p, q in depth.asks]
    except ValueError as error:
        raise MalformedMessage(f"{instrument.symbol} depth snapshot: {error}") from error
    if depth.last_update_id < 0 or any(price <= 0 for side in (bids, asks) for price, _ in side):
        raise MalformedMessage(f"{instrument.symbol} depth snapshot: a negative id or a price of 0")
    return BookSnapshot(
        symbol=instrument.symbol,
        last_update_id=depth.last_update_id,
        bids=bids,
        asks=asks,
        ts_event=0,
        ts_recv=0,
    )
