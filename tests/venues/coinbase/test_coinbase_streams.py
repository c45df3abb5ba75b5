"""The Coinbase `user` stream and live market-data feed against the simulated Coinbase Exchange."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from conftest import eventually
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.ports import SystemClock
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner, exchange_timestamp
from tradestack.venues.coinbase.feed import CoinbaseFeedSettings, CoinbaseMarketFeed
from tradestack.venues.coinbase.user_stream import CoinbaseUserStream
from tradestack.venues.simulated_coinbase import CoinbaseSimConfig
from venues.coinbase.coinbase_rig import MANUAL, QUIET, Rig, coinbase_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC, ETH = "BTC-USD", "ETH-USD"


class Reports:
    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.reconnects = 0

    def on_report(self, report: OrderReport, ts_recv: int) -> None:
        self.reports.append(report)

    def on_reconnected(self) -> None:
        self.reconnects += 1


def user_stream(rig: Rig, sink: Reports, signer: CoinbaseExchangeSigner | None = None) -> CoinbaseUserStream:
    return CoinbaseUserStream(
        rig.exchange.ws_url,
        signer or rig.signer,
        rig.instruments,
        SystemClock(),
        sink.on_report,
        sink.on_reconnected,
        directory=rig.directory,
        venue_time_ns=rig.gateway.venue_time_ns,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )


async def test_private_stream_delivers_order_updates_and_fills() -> None:
    async with coinbase_rig() as rig:
        sink = Reports()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            btc = rig.instruments[BTC]
            placed = await rig.trading.submit_now(
                Order("us-1-1", BTC, Side.SELL, btc.price("60000"), btc.size("0.02"))
            )
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.005"))
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.015"))
            await eventually(lambda: len(sink.reports) >= 5)
            received, opened, partial, last, done = sink.reports
            assert (received.client_id, received.status, received.fill) == ("us-1-1", OrderStatus.NEW, None)
            assert received.venue_order_id == placed.venue_order_id
            assert (opened.status, opened.filled_total) == (OrderStatus.NEW, 0)
            assert (partial.status, partial.filled_total) == (OrderStatus.PARTIALLY_FILLED, btc.size("0.005"))
            assert (last.status, last.filled_total) == (OrderStatus.FILLED, btc.size("0.02"))
            assert (done.status, done.filled_total) == (OrderStatus.FILLED, btc.size("0.02"))
            pushed = [r.fill for r in (partial, last)]
            assert pushed == [fill for fill, _ in await rig.trading.fills(BTC, None)]  # fees included
            assert pushed[0] is not None and pushed[0].fee == 15_000_000  # maker 0.05% of 300 USD

            resting = Order("us-1-2", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            await rig.trading.submit_now(resting)
            await rig.trading.cancel(resting)
            await eventually(lambda: sink.reports[-1].status is OrderStatus.CANCELED)
            assert sink.reports[-1].client_id == "us-1-2"

            # our taker buy: a fill at the taker rate
            rig.exchange.venue.flow_limit(BTC, Side.SELL, btc.price("60010"), btc.size("1"))
            await rig.trading.submit_now(
                Order("us-1-3", BTC, Side.BUY, btc.price("60010"), btc.size("0.002"))
            )
            await eventually(
                lambda: (
                    sink.reports[-1].client_id == "us-1-3" and sink.reports[-1].status is OrderStatus.FILLED
                )
            )
            taker = [r.fill for r in sink.reports if r.client_id == "us-1-3" and r.fill is not None]
            assert len(taker) == 1 and taker[0] is not None and taker[0].fee == 12_002_000
            assert stream.parser.unknown_orders == 0
        finally:
            await stream.stop()


async def test_private_stream_subscribes_again_after_a_reconnect() -> None:
    async with coinbase_rig() as rig:
        sink = Reports()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            assert rig.exchange.drop_connections() == 1
            await eventually(lambda: sink.reconnects == 1 and stream.ready)
            assert stream.subscribes == 2
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(
                Order("rc-1-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            )
            await eventually(lambda: [r.client_id for r in sink.reports] == ["rc-1-1", "rc-1-1"])
        finally:
            await stream.stop()


async def test_private_stream_refuses_a_bad_signature() -> None:
    async with coinbase_rig() as rig:
        sink = Reports()
        other_secret = rig.exchange.create_api_key().secret
        forged = CoinbaseExchangeSigner(rig.key.api_key, other_secret, rig.key.passphrase)
        stream = user_stream(rig, sink, forged)
        await stream.start()
        try:
            await eventually(lambda: stream.failures >= 1)
            assert stream.last_error == "Authentication Failed: invalid signature"
            assert not stream.ready
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


def feed_for(
    rig: Rig, sink: Books, settings: CoinbaseFeedSettings | None = None, signed: bool = False
) -> CoinbaseMarketFeed:
    return CoinbaseMarketFeed(
        rig.exchange.ws_url,
        rig.instruments,
        SystemClock(),
        sink.on_book,
        sink.on_trade,
        settings or CoinbaseFeedSettings(backoff_initial_s=0.05, backoff_max_s=0.2),
        signer=rig.signer if signed else None,
        venue_time_ns=rig.gateway.venue_time_ns,
    )


def same_book(rig: Rig, feed: CoinbaseMarketFeed, symbol: str) -> bool:
    venue = rig.exchange.book_levels(symbol)
    sync = feed.syncs[symbol]
    return feed.synced(symbol) and sync.book.bids() == venue.bids and sync.book.asks() == venue.asks


async def step(rig: Rig, steps: int = 1) -> None:
    for _ in range(steps):
        rig.exchange.flow_step()
        rig.exchange.flush_books()
        await asyncio.sleep(0)


def manual(**overrides: object) -> CoinbaseSimConfig:
    return sim_config(MANUAL, batch_interval_ms=0, heartbeat_interval_ms=0, **overrides)


async def test_feed_book_equals_the_venue_book_and_trades_arrive() -> None:
    async with coinbase_rig(manual()) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 30)
            for symbol in (BTC, ETH):
                await eventually(lambda symbol=symbol: same_book(rig, feed, symbol))
                assert feed.syncs[symbol].counters.gaps == 0
            await eventually(lambda: len(sink.trades) > 0)
            venue_ids = {trade.trade_id for trade, _ in rig.exchange.hub.last_trade.values()}
            await eventually(lambda: venue_ids <= {t.trade_id for t in sink.trades})
            rig.exchange.send_heartbeats()
            await eventually(lambda: feed.heartbeats == 2)
            assert feed.heartbeat_gaps == {BTC: 0, ETH: 0}
            assert feed.data_age_ns(BTC, SystemClock().monotonic_ns()) is not None
        finally:
            await feed.stop()


async def test_authenticated_level2_channel() -> None:
    async with coinbase_rig(manual()) as rig:
        sink = Books()
        settings = CoinbaseFeedSettings(book_channel="level2", backoff_initial_s=0.05, backoff_max_s=0.2)
        feed = feed_for(rig, sink, settings, signed=True)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            for _ in range(10):
                rig.exchange.flow_step()  # level2: every event at once, no batch to flush
                await asyncio.sleep(0)
            await eventually(lambda: same_book(rig, feed, BTC) and same_book(rig, feed, ETH))
        finally:
            await feed.stop()
        with pytest.raises(ValueError, match="signer"):
            feed_for(rig, sink, settings)


async def test_a_lost_trade_seen_by_the_heartbeat_resyncs_that_product_alone() -> None:
    async with coinbase_rig(manual()) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 5)
            btc = rig.instruments[BTC]
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.001"))  # a trade: a match base
            rig.exchange.flush_books()
            await eventually(lambda: same_book(rig, feed, BTC) and feed.syncs[BTC].last_trade_id is not None)
            rig.exchange.lose_next_trade(BTC)
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.5"))  # its book change and match lost
            rig.exchange.flush_books()
            await asyncio.sleep(0.05)
            assert not same_book(rig, feed, BTC)  # the book is wrong, and nothing says so yet
            rig.exchange.send_heartbeats()  # ... until the heartbeat's last_trade_id
            await eventually(lambda: feed.heartbeat_gaps[BTC] == 1)
            await eventually(lambda: same_book(rig, feed, BTC))
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, BTC) and same_book(rig, feed, ETH))
            assert feed.resubscriptions == {BTC: 1, ETH: 0}
            assert feed.heartbeat_gaps[ETH] == 0 and feed.syncs[ETH].counters.resyncs == 0
            assert sink.unsynced_events.get(BTC) == 1 and ETH not in sink.unsynced_events
            assert feed.session.counters().connections == 1  # one product, not the connection
        finally:
            await feed.stop()


async def test_a_lost_trade_seen_by_the_next_match_resyncs() -> None:
    async with coinbase_rig(manual()) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            eth = rig.instruments[ETH]
            rig.exchange.venue.flow_market(ETH, Side.SELL, eth.size("0.01"))
            await eventually(lambda: feed.syncs[ETH].last_trade_id is not None)
            rig.exchange.lose_next_trade(ETH)
            rig.exchange.venue.flow_market(ETH, Side.SELL, eth.size("0.01"))
            rig.exchange.venue.flow_market(ETH, Side.SELL, eth.size("0.01"))  # this match shows the gap
            rig.exchange.flush_books()
            await eventually(lambda: feed.syncs[ETH].counters.trade_gaps == 1)
            await eventually(lambda: same_book(rig, feed, ETH))
            assert feed.resubscriptions == {BTC: 0, ETH: 1}
        finally:
            await feed.stop()


async def test_feed_reconnects_and_resyncs_after_the_connection_drops() -> None:
    async with coinbase_rig(manual()) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            assert rig.exchange.drop_connections() == 1
            await eventually(lambda: feed.session.counters().connections == 2)
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, BTC) and same_book(rig, feed, ETH))
            assert sink.unsynced_events == {BTC: 1, ETH: 1}
        finally:
            await feed.stop()


async def test_heartbeats_keep_it_up_and_their_silence_reconnects() -> None:
    config = sim_config(QUIET, batch_interval_ms=0, heartbeat_interval_ms=100)
    async with coinbase_rig(config) as rig:
        sink = Books()
        settings = CoinbaseFeedSettings(
            staleness_s=0.6, trades=False, backoff_initial_s=0.05, backoff_max_s=0.2
        )
        feed = feed_for(rig, sink, settings)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await asyncio.sleep(1.2)  # two staleness bounds of a quiet book: heartbeats keep it fresh
            assert feed.session.counters().connections == 1
            assert feed.heartbeats >= 10
            age = feed.data_age_ns(BTC, SystemClock().monotonic_ns())
            assert age is not None and age < 400_000_000
            rig.exchange.pause_heartbeats()
            await eventually(lambda: feed.session.counters().stale_streams != {}, timeout=5)
            rig.exchange.pause_heartbeats(False)
            await eventually(
                lambda: feed.session.counters().connections >= 2 and feed.all_synced(), timeout=5
            )
        finally:
            await feed.stop()


async def test_ws_feed_dialect_errors_and_acks() -> None:
    config = sim_config(QUIET, batch_interval_ms=0, heartbeat_interval_ms=0, subscribe_timeout_s=0.5)
    async with coinbase_rig(config) as rig, aiohttp.ClientSession() as session:
        silent = await session.ws_connect(rig.exchange.ws_url)
        await eventually(lambda: rig.exchange.connections == 0, timeout=5)  # never subscribed: closed
        await silent.close()

        ws = await session.ws_connect(rig.exchange.ws_url)
        await ws.send_str('{"type":"subscribe","product_ids":["NOPE-USD"],"channels":["matches"]}')
        error = await ws.receive_json(timeout=2)
        assert (error["type"], error["message"]) == ("error", "Failed to subscribe")
        await ws.send_str('{"type":"subscribe","product_ids":["BTC-USD"],"channels":["user"]}')
        error = await ws.receive_json(timeout=2)
        assert (error["type"], error["message"]) == ("error", "Authentication Failed")
        stale = rig.signer.websocket_subscribe(
            exchange_timestamp(SystemClock().now_ns() - 60_000_000_000), [BTC], ["user"]
        )
        await ws.send_str(stale.decode())
        assert (await ws.receive_json(timeout=2))["reason"] == "request timestamp expired"
        await ws.send_str(
            '{"type":"subscribe","channels":[{"name":"level2_batch","product_ids":["BTC-USD"]}]}'
        )
        ack = await ws.receive_json(timeout=2)
        assert ack == {"type": "subscriptions", "channels": [{"name": "level2_batch", "product_ids": [BTC]}]}
        snapshot = await ws.receive_json(timeout=2)
        assert (snapshot["type"], snapshot["product_id"]) == ("snapshot", BTC)
        await ws.close()
