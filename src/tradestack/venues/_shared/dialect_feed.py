"""DialectFeed: the market feed the OKX, Bybit, Kraken and Coinbase feeds share.

    class XxxMarketFeed(DialectFeed[XxxFeedSettings, XxxBookSync, XxxBookUpdate]):
        _VENUE = "xxx"  # logs, and the session's name "xxx-market"
        _UNIT = "symbol"  # what the venue calls an instrument, in the resync log line
        _SYNCED = SyncState.SYNCED

        def __init__(self, ws_url, instruments, clock, on_book, on_trade, settings, observer, rng):
            super().__init__(instruments, clock, on_book, on_trade, settings, observer, rng,
                             channels=..., streams=..., book_stream=..., parser=..., syncs=...,
                             book_message=XxxBookUpdate, apply=XxxBookSync.on_message)

        def _book_subscription(self, op: str, symbol: str) -> list[bytes]: ...

One resilient public session (WsSession) and one synchronized book per symbol. Frames are parsed and
applied synchronously in the socket callback: a book message goes to its symbol's sync; APPLY hands
the book on (synced), GAP flags it unsynced (observer gap/resync/synced) and renews that symbol's book
subscription, which makes each of these venues send a fresh snapshot. A reconnect resyncs every book.
Malformed frames are counted every time and logged once per reason. A venue keeps only its dialect:
settings, session channels and streams, parser, book sync, subscription frames, the sequence fields
its log lines carry, and anything extra (Bybit's app ping, Kraken's pong, Coinbase's heartbeats and
matches).

The callbacks are every feed's: on_book(symbol, OrderBook, synced, ts_recv), on_trade(TradePrint).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import ClassVar, Generic, Protocol, TypeVar

import structlog

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.feed_hooks import BookHandler, FeedHooks, FeedObserver, TradeHandler
from tradestack.venues._shared.malformed import MalformedFrames
from tradestack.venues._shared.ws_session import (
    Reconnected,
    SessionConfig,
    StreamDialect,
    StreamSpec,
    WsSession,
)

log = structlog.get_logger("tradestack.venues.feed")


class FeedSettings(Protocol):
    """The settings every dialect's feed has (each venue's frozen dataclass adds its own)."""

    @property
    def staleness_s(self) -> float | None: ...
    @property
    def ping_idle_s(self) -> float: ...
    @property
    def pong_timeout_s(self) -> float: ...
    @property
    def backoff_initial_s(self) -> float: ...
    @property
    def backoff_max_s(self) -> float: ...
    @property
    def trades(self) -> bool: ...


class BookSync(Protocol):
    """What the feed needs of a venue's book sync (book_sync.py of each venue)."""

    @property
    def book(self) -> OrderBook: ...
    @property
    def state(self) -> Enum: ...
    def restart(self) -> None: ...


class BookMessage(Protocol):
    @property
    def symbol(self) -> str: ...


class MarketParser(Protocol):
    def parse(self, frame: bytes, ts_recv: int) -> Sequence[object]: ...


SettingsT = TypeVar("SettingsT", bound=FeedSettings)
SyncT = TypeVar("SyncT", bound=BookSync)
MessageT = TypeVar("MessageT", bound=BookMessage)


def book_and_trade_streams(
    book_stream: Mapping[str, str], trade_stream: Callable[[str], str], settings: FeedSettings
) -> list[StreamSpec]:
    """Per symbol its book stream, with the staleness bound, and its trades stream if wanted."""
    streams = []
    for symbol, name in book_stream.items():
        streams.append(StreamSpec(name, stale_after_s=settings.staleness_s))
        if settings.trades:
            streams.append(StreamSpec(trade_stream(symbol)))
    return streams


class DialectFeed(ABC, Generic[SettingsT, SyncT, MessageT]):
    _VENUE: ClassVar[str]
    _UNIT: ClassVar[str]
    _SYNCED: ClassVar[Enum]  # the venue's SyncState.SYNCED

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_book: BookHandler,
        on_trade: TradeHandler,
        settings: SettingsT,
        observer: FeedHooks | None,
        rng: random.Random | None,
        *,
        channels: StreamDialect,
        streams: Sequence[StreamSpec],
        book_stream: dict[str, str],
        parser: MarketParser,
        syncs: dict[str, SyncT],
        book_message: type[MessageT],
        apply: Callable[[SyncT, MessageT], Decision],
        text_ping: bytes | None = None,
        text_pong: bytes | None = None,
    ) -> None:
        self.instruments = instruments
        self.settings = settings
        self.observer: FeedHooks = observer or FeedObserver()
        self.on_book = on_book
        self.on_trade = on_trade
        self.parser = parser
        self.syncs = syncs
        self.resubscriptions: dict[str, int] = dict.fromkeys(instruments, 0)
        self._malformed = MalformedFrames(self.observer.malformed, log)
        self._book_stream = book_stream  # symbol -> the stream whose silence makes its book stale
        # Instance attributes, read on every message: as cheap as the module globals they replace.
        self._book_message = book_message
        self._apply = apply  # the sync's method taking one book message, unbound: no call layer added
        self.session = WsSession(
            channels,
            streams,
            self._on_frame,
            clock=clock,
            backoff=Backoff(settings.backoff_initial_s, settings.backoff_max_s, rng=rng or random.Random()),
            config=SessionConfig(
                f"{self._VENUE}-market",
                ping_idle_s=settings.ping_idle_s,
                pong_timeout_s=settings.pong_timeout_s,
                text_ping=text_ping,
                text_pong=text_pong,
            ),
            on_reconnected=self._on_reconnected,
        )

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self.session.stop()

    def synced(self, symbol: str) -> bool:
        return self.syncs[symbol].state is self._SYNCED

    def all_synced(self) -> bool:
        synced = self._SYNCED
        return all(sync.state is synced for sync in self.syncs.values())

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None:
        """How long ago the symbol's book stream last delivered a frame; None before the first."""
        last = self.session.last_data_ns.get(self._book_stream[symbol])
        return None if last is None else now_mono_ns - last

    # -- the hot path ---------------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        self.observer.frames(1)
        for event in self.parser.parse(payload, ts_recv):
            if isinstance(event, self._book_message):
                self._on_book_message(event, ts_recv)
            elif isinstance(event, TradePrint):
                self.on_trade(event)
            elif isinstance(event, Malformed):
                self._malformed(event)

    def _on_book_message(self, message: MessageT, ts_recv: int) -> None:
        symbol = message.symbol
        sync = self.syncs.get(symbol)
        if sync is None:
            return
        self.observer.market_data(symbol, ts_recv)
        was_synced = sync.state is self._SYNCED
        decision = self._apply(sync, message)
        if decision is Decision.APPLY:
            if not was_synced:
                self.observer.synced(symbol, True)
                log.info("book synced", symbol=symbol, **self._synced_fields(sync, message))
            self.on_book(symbol, sync.book, True, ts_recv)
        elif decision is Decision.GAP:
            self._out_of_sync(symbol, sync, was_synced, ts_recv, self._gap_fields(sync, message))

    # -- what a venue says about its sequence ---------------------------------------------------------
    def _synced_fields(self, sync: SyncT, message: MessageT) -> dict[str, object]:
        """Logged with "book synced": where the venue's sequence starts."""
        return {}

    def _gap_fields(self, sync: SyncT, message: MessageT) -> dict[str, object]:
        """Logged with "book out of sync": the sequence fields and counters that tell why."""
        return {}

    @abstractmethod
    def _book_subscription(self, op: str, symbol: str) -> list[bytes]:
        """The frames that `op` ("subscribe", "unsubscribe") the symbol's book (and what must be
        renewed with it)."""

    # -- resync ---------------------------------------------------------------------------------------
    def _out_of_sync(
        self, symbol: str, sync: SyncT, was_synced: bool, ts_recv: int, fields: Mapping[str, object]
    ) -> None:
        """The sync discarded the book: flag it unsynced and ask the venue for a fresh snapshot."""
        log.warning(f"book out of sync: resyncing {self._UNIT}", symbol=symbol, **fields)
        self.observer.gap(symbol)
        self.observer.resync(symbol)
        if was_synced:
            self.observer.synced(symbol, False)
        self.on_book(symbol, sync.book, False, ts_recv)
        self._resubscribe(symbol)

    def _resubscribe(self, symbol: str) -> None:
        """A fresh snapshot for one symbol: the venue sends it on (re)subscribing to its book."""
        if all(self.session.send(frame) for frame in self._book_subscription("unsubscribe", symbol)):
            for frame in self._book_subscription("subscribe", symbol):
                self.session.send(frame)
            self.resubscriptions[symbol] += 1
        # not connected: the reconnect subscribes again, and resyncs every book anyway

    def _on_reconnected(self, event: Reconnected) -> None:
        log.info(f"{self._VENUE} market data reconnected: resyncing every book", reason=str(event.reason))
        for symbol, sync in self.syncs.items():
            was_synced = sync.state is self._SYNCED
            sync.restart()
            self.observer.resync(symbol)
            if was_synced:
                self.observer.synced(symbol, False)
            self.on_book(symbol, sync.book, False, 0)
