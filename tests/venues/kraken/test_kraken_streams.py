"""The Kraken private stream (ws-auth v2, by token) and market-data feed (v2 `book` with CRC32)
against the simulated Kraken exchange, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import pytest

from conftest import eventually
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.ports import SystemClock
from tradestack.venues.kraken.feed import KrakenFeedSettings, KrakenMarketFeed
from tradestack.venues.kraken.user_stream import KrakenUserStream
from venues.kraken.kraken_rig import BTC, ETH, MANUAL, Rig, kraken_rig, sim_config

pytestmark = pytest.mark.timeout(30)


class Sink:
    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.balances: dict[str, int] = {}
        self.reconnects = 0

    def on_report(self, report: OrderReport, ts_recv: int) -> None:
        self.reports.append(report)

    def on_balances(self, balances: Mapping[str, int]) -> None:
        self.balances.update(balances)

    def on_reconnected(self) -> None:
        self.reconnects += 1


def user_stream(
    rig: Rig, sink: Sink, token_source: Callable[[], Awaitable[str]] | None = None
) -> KrakenUserStream:
    return KrakenUserStream(
        rig.exchange.private_ws_url,
        token_source or rig.gateway.websocket_token,
        rig.instruments,
        SystemClock(),
        sink.on_report,
        sink.on_reconnected,
        on_balances=sink.on_balances,
        directory=rig.trading.directory,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        retry_s=0.1,
    )


async def test_pushed_fills_equal_the_rest_fills_and_balances_follow() -> None:
    async with kraken_rig() as rig:
        sink = Sink()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            btc = rig.instruments[BTC]
            sell = Order("us-1-1", BTC, Side.SELL, btc.price("60000"), btc.size("0.01"))
            placed = await rig.trading.submit_now(sell)
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.004"))
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.006"))
            await eventually(lambda: any(r.status is OrderStatus.FILLED for r in sink.reports))
            mine = [r for r in sink.reports if r.client_id == "us-1-1"]
            assert [(r.status, r.filled_total) for r in mine] == [
                (OrderStatus.NEW, 0),
                (OrderStatus.PARTIALLY_FILLED, btc.size("0.004")),
                (OrderStatus.FILLED, btc.size("0.01")),
            ]
            assert {r.venue_order_id for r in mine} == {placed.venue_order_id}  # one handle per txid
            pushed = [r.fill for r in mine if r.fill is not None]
            rest = [fill for fill, _ in await rig.trading.fills(BTC, None)]
            assert pushed == rest  # same trade ids (exec_id), prices, sizes, fees, times
            assert pushed[0].fee == 38_400_000 and pushed[0].fee_asset == "USDT"  # maker 0.16% of 240
            venue = {asset: b.free + b.locked for asset, b in rig.exchange.balances().items()}
            await eventually(lambda: sink.balances == venue)
        finally:
            await stream.stop()


async def test_a_reconnect_subscribes_again_with_a_fresh_token() -> None:
    async with kraken_rig() as rig:
        sink = Sink()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            assert rig.exchange.drop_private_connections() == 1
            await eventually(lambda: sink.reconnects == 1 and stream.ready)
            assert len(stream.tokens) == 2 and stream.tokens[0] != stream.tokens[1]
            assert rig.exchange.hub.tokens_used[-1] == stream.tokens[1]
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(Order("us-2-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.01")))
            await eventually(lambda: any(r.client_id == "us-2-1" for r in sink.reports))
        finally:
            await stream.stop()


async def test_a_refused_token_is_reported_and_retried() -> None:
    async with kraken_rig() as rig:
        sink = Sink()
        calls = 0

        async def tokens() -> str:
            nonlocal calls
            calls += 1
            return "not-a-token" if calls == 1 else await rig.gateway.websocket_token()

        stream = user_stream(rig, sink, tokens)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            assert stream.last_error == "EAPI:Invalid token" and calls == 2
        finally:
            await stream.stop()


# ---- market data ----------------------------------------------------------------------------------


class Books:
    def __init__(self) -> None:
        self.synced: dict[str, bool] = {}
        self.trades: list[TradePrint] = []
        self.unsynced_events: dict[str, int] = {}

    def on_book(self, symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        self.synced[symbol] = synced
        if not synced:
            self.unsynced_events[symbol] = self.unsynced_events.get(symbol, 0) + 1

    def on_trade(self, trade: TradePrint) -> None:
        self.trades.append(trade)


def feed_for(rig: Rig, sink: Books, depth: int = 10) -> KrakenMarketFeed:
    settings = KrakenFeedSettings(backoff_initial_s=0.05, backoff_max_s=0.2, depth=depth)
    return KrakenMarketFeed(
        rig.exchange.public_ws_url, rig.instruments, SystemClock(), sink.on_book, sink.on_trade, settings
    )


def same_book(rig: Rig, feed: KrakenMarketFeed, symbol: str, depth: int = 10) -> bool:
    venue = rig.exchange.book_levels(symbol, depth)  # the subscribed depth
    book = feed.syncs[symbol].book
    return feed.synced(symbol) and book.bids() == venue.bids and book.asks() == venue.asks


async def step(rig: Rig, steps: int = 1) -> None:
    for _ in range(steps):
        rig.exchange.flow_step()
        rig.exchange.flush_books()
        await asyncio.sleep(0)


async def test_feed_book_equals_the_venue_book_with_every_checksum_verified() -> None:
    async with kraken_rig(sim_config(MANUAL, book_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 40)
            for symbol in (BTC, ETH):
                await eventually(lambda symbol=symbol: same_book(rig, feed, symbol))
                counters = feed.syncs[symbol].counters
                assert counters.checksum_ok > 10 and counters.checksum_failed == 0
                assert counters.checksum_absent == 0 and counters.crossed == 0
            await eventually(lambda: {t.symbol for t in sink.trades} == {BTC, ETH})
            assert all(t.trade_id > 0 for t in sink.trades)
        finally:
            await feed.stop()


async def test_a_checksum_break_resyncs_that_pair_alone() -> None:
    async with kraken_rig(sim_config(MANUAL, book_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 3)
            rig.exchange.corrupt_next_checksum(ETH)
            await step(rig, 3)
            await eventually(lambda: feed.syncs[ETH].counters.checksum_failed == 1)
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, ETH) and same_book(rig, feed, BTC))
            assert feed.resubscriptions == {BTC: 0, ETH: 1}
            assert feed.syncs[BTC].counters.resyncs == 0
            assert sink.unsynced_events.get(ETH) == 1 and BTC not in sink.unsynced_events
            assert feed.session.counters().connections == 1  # one pair, not the connection
        finally:
            await feed.stop()


async def test_a_deeper_book_resyncs_at_its_own_depth() -> None:
    # the venue ends a book subscription only when the unsubscribe names its depth, and refuses a
    # second one at the same depth: a resync that unsubscribed at the default 10 would never resync
    async with kraken_rig(sim_config(MANUAL, book_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink, depth=25)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 3)
            rig.exchange.corrupt_next_checksum(ETH)
            await step(rig, 3)
            await eventually(lambda: feed.syncs[ETH].counters.checksum_failed == 1)
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, ETH, 25) and feed.syncs[ETH].counters.resyncs == 1)
            assert feed.resubscriptions == {BTC: 0, ETH: 1}
            assert len(feed.syncs[ETH].book.bids()) > 10  # deeper than the default
        finally:
            await feed.stop()


async def test_feed_reconnects_resubscribes_and_resyncs_every_book() -> None:
    async with kraken_rig(sim_config(MANUAL, book_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            assert rig.exchange.drop_public_connections() == 1
            await eventually(lambda: feed.session.counters().connections == 2)
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, BTC) and same_book(rig, feed, ETH))
            assert sink.unsynced_events == {BTC: 1, ETH: 1}
        finally:
            await feed.stop()


async def test_heartbeats_keep_a_quiet_book_fresh() -> None:
    async with kraken_rig(sim_config(book_interval_ms=0, heartbeat_s=0.05)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            frames = feed.session.counters().frames_received
            await eventually(lambda: feed.session.counters().frames_received > frames + 3)  # heartbeats
            assert feed.all_synced() and feed.session.counters().connections == 1
        finally:
            await feed.stop()
