"""The OKX private stream and live market-data feed against the simulated OKX exchange, real sockets."""

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
from tradestack.venues.okx.auth import OkxSigner
from tradestack.venues.okx.feed import OkxFeedSettings, OkxMarketFeed
from tradestack.venues.okx.user_stream import OkxUserStream
from venues.okx.okx_rig import MANUAL, QUIET, Rig, okx_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC, ETH = "BTC-USDT", "ETH-USDT"


class Reports:
    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.reconnects = 0

    def on_report(self, report: OrderReport, ts_recv: int) -> None:
        self.reports.append(report)

    def on_reconnected(self) -> None:
        self.reconnects += 1


def user_stream(rig: Rig, sink: Reports, signer: OkxSigner | None = None) -> OkxUserStream:
    return OkxUserStream(
        rig.exchange.private_ws_url,
        signer or rig.signer,
        rig.instruments,
        SystemClock(),
        sink.on_report,
        sink.on_reconnected,
        venue_time_ns=rig.gateway.venue_time_ns,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )


async def test_private_stream_delivers_order_updates_and_fills() -> None:
    async with okx_rig() as rig:
        sink = Reports()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            btc = rig.instruments[BTC]
            order = Order("us-1-1", BTC, Side.SELL, btc.price("60000"), btc.size("0.02"))
            placed = await rig.trading.submit_now(order)
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.005"))
            rig.exchange.venue.flow_market(BTC, Side.BUY, btc.size("0.015"))
            await eventually(lambda: len(sink.reports) >= 3)
            new, partial, filled = sink.reports
            assert (new.client_id, new.status, new.fill) == ("us-1-1", OrderStatus.NEW, None)
            assert new.venue_order_id == placed.venue_order_id
            assert (partial.status, partial.filled_total) == (OrderStatus.PARTIALLY_FILLED, btc.size("0.005"))
            assert (filled.status, filled.filled_total) == (OrderStatus.FILLED, btc.size("0.02"))
            pushed = [r.fill for r in (partial, filled)]
            assert all(fill is not None for fill in pushed)
            assert pushed == [fill for fill, _ in await rig.trading.fills(BTC, None)]
            assert pushed[0] is not None and pushed[0].fee == 15_000_000  # maker 0.05% of 300 USDT

            # a cancel is pushed too
            resting = Order("us-1-2", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            await rig.trading.submit_now(resting)
            await rig.trading.cancel(resting)
            await eventually(lambda: sink.reports[-1].status is OrderStatus.CANCELED)
            assert sink.reports[-1].client_id == "us-1-2"
        finally:
            await stream.stop()


async def test_private_stream_logs_in_again_after_a_reconnect() -> None:
    async with okx_rig() as rig:
        sink = Reports()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            assert rig.exchange.drop_private_connections() == 1
            await eventually(lambda: sink.reconnects == 1 and stream.ready)
            assert stream.logins == 2
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(
                Order("rc-1-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            )
            await eventually(lambda: [r.client_id for r in sink.reports] == ["rc-1-1"])
        finally:
            await stream.stop()


async def test_private_stream_refuses_a_bad_login() -> None:
    async with okx_rig() as rig:
        sink = Reports()
        forged = OkxSigner(rig.key.api_key, "NOT-THE-SECRET", rig.key.passphrase)
        stream = user_stream(rig, sink, forged)
        await stream.start()
        try:
            await eventually(lambda: stream.login_failures >= 1)
            assert stream.last_error.startswith("60007")  # Invalid sign
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


def feed_for(rig: Rig, sink: Books, settings: OkxFeedSettings | None = None) -> OkxMarketFeed:
    return OkxMarketFeed(
        rig.exchange.public_ws_url,
        rig.instruments,
        SystemClock(),
        sink.on_book,
        sink.on_trade,
        settings or OkxFeedSettings(backoff_initial_s=0.05, backoff_max_s=0.2),
    )


def same_book(rig: Rig, feed: OkxMarketFeed, symbol: str) -> bool:
    venue = rig.exchange.book_levels(symbol)
    sync = feed.syncs[symbol]
    return (
        feed.synced(symbol)
        and sync.last_seq_id == venue.update_id
        and sync.book.bids() == venue.bids
        and sync.book.asks() == venue.asks
    )


async def step(rig: Rig, steps: int = 1) -> None:
    for _ in range(steps):
        rig.exchange.flow_step()
        rig.exchange.flush_books()
        await asyncio.sleep(0)


async def test_feed_book_equals_the_venue_book_and_trades_arrive() -> None:
    async with okx_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 30)
            for symbol in (BTC, ETH):
                await eventually(lambda symbol=symbol: same_book(rig, feed, symbol))
                sync = feed.syncs[symbol]
                assert sync.counters.checksum_ok > 10 and sync.counters.checksum_failed == 0
                assert sync.counters.gaps == 0
            await eventually(lambda: len(sink.trades) > 0)
            venue_trade_ids = {t.trade_id for t in sink.trades if t.symbol == BTC}
            assert venue_trade_ids  # the flow's takers trade
        finally:
            await feed.stop()


async def test_a_dropped_update_resyncs_that_instrument_alone() -> None:
    async with okx_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 5)
            await eventually(lambda: same_book(rig, feed, BTC))
            rig.exchange.skip_next_books_update(BTC)
            await step(rig, 3)
            await eventually(lambda: feed.syncs[BTC].counters.gaps == 1)
            await step(rig, 3)
            await eventually(lambda: same_book(rig, feed, BTC))
            await eventually(lambda: same_book(rig, feed, ETH))
            assert feed.resubscriptions == {BTC: 1, ETH: 0}
            assert feed.syncs[ETH].counters.resyncs == 0
            assert sink.unsynced_events.get(BTC) == 1 and ETH not in sink.unsynced_events
            assert feed.session.counters().connections == 1  # one instrument, not the connection
        finally:
            await feed.stop()


async def test_a_checksum_mismatch_resyncs_that_instrument() -> None:
    async with okx_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            rig.exchange.corrupt_next_checksum(ETH)
            await step(rig, 4)
            await eventually(lambda: feed.syncs[ETH].counters.checksum_failed == 1)
            await step(rig, 2)
            await eventually(lambda: same_book(rig, feed, ETH) and same_book(rig, feed, BTC))
            assert feed.resubscriptions == {BTC: 0, ETH: 1}
            assert feed.syncs[ETH].counters.gaps == 0
        finally:
            await feed.stop()


async def test_feed_reconnects_and_resyncs_after_the_connection_drops() -> None:
    async with okx_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
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


async def test_text_ping_keeps_a_quiet_connection_open() -> None:
    # nothing to push (no flow): OKX (here after 1 s) drops a connection on which nothing moves
    config = sim_config(QUIET, books_interval_ms=0, idle_timeout_s=1.0)
    async with okx_rig(config) as rig, aiohttp.ClientSession() as session:
        silent = await session.ws_connect(rig.exchange.public_ws_url, autoping=False, heartbeat=None)
        await silent.send_str('{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}')
        await eventually(lambda: silent.closed or rig.exchange.public_connections == 0, timeout=5)

        sink = Books()
        settings = OkxFeedSettings(staleness_s=None, ping_idle_s=0.3, pong_timeout_s=0.2, trades=False)
        feed = feed_for(rig, sink, settings)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            pings = rig.exchange.hub.pings
            await asyncio.sleep(2.5)  # 2.5 idle timeouts
            assert rig.exchange.hub.pings >= pings + 4
            assert feed.session.counters().connections == 1
            assert feed.all_synced()
        finally:
            await feed.stop()


async def test_websocket_dialect_errors_and_acks() -> None:
    async with okx_rig(sim_config(QUIET, books_interval_ms=0)) as rig, aiohttp.ClientSession() as session:
        public = await session.ws_connect(rig.exchange.public_ws_url)
        await public.send_str("ping")
        assert await public.receive_str(timeout=2) == "pong"
        await public.send_str('{"op":"subscribe","id":"7","args":[{"channel":"books","instId":"NOPE-USDT"}]}')
        error = await public.receive_json(timeout=2)
        assert (error["id"], error["event"], error["code"]) == ("7", "error", "60018")
        await public.send_str("{not json")
        assert (await public.receive_json(timeout=2))["code"] == "60012"
        await public.send_str('{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}')
        ack = await public.receive_json(timeout=2)
        assert ack["event"] == "subscribe" and ack["arg"] == {"channel": "trades", "instId": "BTC-USDT"}
        assert ack["connId"]

        private = await session.ws_connect(rig.exchange.private_ws_url)
        await private.send_str('{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}')
        assert (await private.receive_json(timeout=2))["code"] == "60011"  # log in first
        await private.send_str(rig.signer.websocket_login(str(SystemClock().now_ns() // 10**9 - 60)).decode())
        assert (await private.receive_json(timeout=2))["code"] == "60006"  # expired timestamp
        await private.send_str(rig.signer.websocket_login(str(SystemClock().now_ns() // 10**9)).decode())
        login = await private.receive_json(timeout=2)
        assert (login["event"], login["code"]) == ("login", "0")
        await public.close()
        await private.close()
