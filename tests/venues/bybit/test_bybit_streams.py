"""The Bybit private stream and live market-data feed against the simulated Bybit exchange, real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import pytest

from conftest import eventually
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.ports import SystemClock
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.feed import BybitFeedSettings, BybitMarketFeed
from tradestack.venues.bybit.user_stream import BybitUserStream
from venues.bybit.bybit_rig import MANUAL, Rig, bybit_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC, ETH = "BTCUSDT", "ETHUSDT"


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
    rig: Rig, sink: Sink, signer: BybitSigner | None = None, app_ping_s: float = 20.0
) -> BybitUserStream:
    return BybitUserStream(
        rig.exchange.private_ws_url,
        signer or rig.signer,
        rig.instruments,
        SystemClock(),
        sink.on_report,
        sink.on_reconnected,
        on_balances=sink.on_balances,
        venue_time_ns=rig.gateway.venue_time_ns,
        app_ping_s=app_ping_s,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )


async def test_private_stream_pushes_orders_fills_equal_to_rest_and_balances() -> None:
    async with bybit_rig() as rig:
        sink = Sink()
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
            await eventually(
                lambda: any(r.status is OrderStatus.FILLED and r.fill is None for r in sink.reports)
            )
            new = sink.reports[0]
            assert (new.client_id, new.status, new.fill) == ("us-1-1", OrderStatus.NEW, None)
            assert new.venue_order_id == placed.venue_order_id
            executions = [r for r in sink.reports if r.fill is not None]
            assert [(r.status, r.filled_total) for r in executions] == [
                (OrderStatus.PARTIALLY_FILLED, btc.size("0.005")),
                (OrderStatus.FILLED, btc.size("0.02")),
            ]
            pushed = [r.fill for r in executions]
            assert pushed == [fill for fill, _ in await rig.trading.fills(BTC, None)]
            assert pushed[0] is not None and pushed[0].fee == 15_000_000  # maker 0.05% of 300 USDT

            # `wallet` pushes the account's totals: equal to the venue's, and to REST's
            await eventually(
                lambda: sink.balances == {a: b.free + b.locked for a, b in rig.exchange.balances().items()}
            )
            assert sink.balances == await rig.trading.balances()

            # a cancel is pushed too
            resting = Order("us-1-2", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            await rig.trading.submit_now(resting)
            await rig.trading.cancel(resting)
            await eventually(lambda: sink.reports[-1].status is OrderStatus.CANCELED)
            assert sink.reports[-1].client_id == "us-1-2"
        finally:
            await stream.stop()


async def test_private_stream_authenticates_and_subscribes_again_after_a_reconnect() -> None:
    async with bybit_rig() as rig:
        sink = Sink()
        stream = user_stream(rig, sink)
        await stream.start()
        try:
            async with asyncio.timeout(5):
                await stream.wait_ready()
            assert rig.exchange.drop_private_connections() == 1
            await eventually(lambda: sink.reconnects == 1 and stream.ready)
            assert stream.auths == 2
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(
                Order("rc-1-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.001"))
            )
            await eventually(lambda: [r.client_id for r in sink.reports] == ["rc-1-1"])
        finally:
            await stream.stop()


async def test_private_stream_refuses_a_bad_signature_and_app_pings_are_answered() -> None:
    async with bybit_rig() as rig:
        sink = Sink()
        forged = user_stream(rig, sink, BybitSigner(rig.key.api_key, "NOT-THE-SECRET"))
        good = user_stream(rig, Sink(), app_ping_s=0.1)
        await forged.start()
        await good.start()
        try:
            await eventually(lambda: forged.auth_failures >= 1)
            assert forged.last_error == "Invalid sign"
            assert not forged.ready
            await eventually(lambda: good.ready and rig.exchange.hub.pings >= 3)
            assert good.session.counters().connections == 1  # the `pong` answers are not malformed
        finally:
            await forged.stop()
            await good.stop()


# ---- market data ----------------------------------------------------------------------------------


class Books:
    def __init__(self) -> None:
        self.trades: list[TradePrint] = []
        self.unsynced_events: dict[str, int] = {}

    def on_book(self, symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        if not synced:
            self.unsynced_events[symbol] = self.unsynced_events.get(symbol, 0) + 1

    def on_trade(self, trade: TradePrint) -> None:
        self.trades.append(trade)


def feed_for(rig: Rig, sink: Books) -> BybitMarketFeed:
    settings = BybitFeedSettings(backoff_initial_s=0.05, backoff_max_s=0.2)
    return BybitMarketFeed(
        rig.exchange.public_ws_url, rig.instruments, SystemClock(), sink.on_book, sink.on_trade, settings
    )


def same_book(rig: Rig, feed: BybitMarketFeed, symbol: str) -> bool:
    """The feed's book is the venue's top 50 levels a side, at the venue's last `u`."""
    venue = rig.exchange.book_levels(symbol)
    sync = feed.syncs[symbol]
    return (
        feed.synced(symbol)
        and sync.last_update_id == venue.update_id
        and sync.book.bids() == venue.bids
        and sync.book.asks() == venue.asks
    )


async def step(rig: Rig, steps: int = 1) -> None:
    for _ in range(steps):
        rig.exchange.flow_step()
        rig.exchange.flush_books()
        await asyncio.sleep(0)


async def test_feed_book_equals_the_venue_book_and_trades_arrive() -> None:
    async with bybit_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await eventually(feed.all_synced)
            await step(rig, 30)
            for symbol in (BTC, ETH):
                await eventually(lambda symbol=symbol: same_book(rig, feed, symbol))
                counters = feed.syncs[symbol].counters
                assert counters.events_applied > 10 and counters.gaps == 0
                assert 0 < len(feed.syncs[symbol].book.bids()) <= 50  # the top 50, kept exactly
            await eventually(lambda: len(sink.trades) > 0)
        finally:
            await feed.stop()


async def test_a_dropped_delta_resyncs_that_symbol_alone() -> None:
    async with bybit_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
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
            assert feed.session.counters().connections == 1  # one symbol, not the connection
        finally:
            await feed.stop()


async def test_feed_reconnects_resubscribes_and_resyncs_after_the_connection_drops() -> None:
    async with bybit_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
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
            topics = {topic for conn in rig.exchange.hub.connections for topic in conn.topics}
            assert topics == {
                f"orderbook.50.{BTC}",
                f"orderbook.50.{ETH}",
                f"publicTrade.{BTC}",
                f"publicTrade.{ETH}",
            }
        finally:
            await feed.stop()


async def test_websocket_dialect_errors_and_acks() -> None:
    async with bybit_rig() as rig, aiohttp.ClientSession() as http:
        async with http.ws_connect(rig.exchange.public_ws_url) as public:
            await public.send_str('{"op":"subscribe","args":["orderbook.50.NOPE"],"req_id":"r1"}')
            refused = await asyncio.wait_for(public.receive_json(), 5)
            assert (refused["success"], refused["op"], refused["req_id"]) == (False, "subscribe", "r1")
            await public.send_str('{"op":"ping"}')
            pong = await asyncio.wait_for(public.receive_json(), 5)
            assert (pong["success"], pong["ret_msg"], pong["op"]) == (True, "pong", "ping")
        async with http.ws_connect(rig.exchange.private_ws_url) as private:
            await private.send_str('{"op":"subscribe","args":["order"]}')
            early = await asyncio.wait_for(private.receive_json(), 5)
            assert (early["success"], early["ret_msg"]) == (False, "Request not authorized")
            expires = rig.gateway.venue_time_ns() // 1_000_000 + 5000
            await private.send_str(rig.signer.websocket_auth(expires).decode())
            authed = await asyncio.wait_for(private.receive_json(), 5)
            assert (authed["success"], authed["op"]) == (True, "auth")


async def test_levels_entering_and_leaving_the_top_50_keep_the_book_exact() -> None:
    async with bybit_rig(sim_config(MANUAL, books_interval_ms=0)) as rig:
        feed = feed_for(rig, Books())
        await feed.start()
        try:
            await eventually(feed.all_synced)
            btc, venue = rig.instruments[BTC], rig.exchange.venue
            best = rig.exchange.book_levels(BTC).bids[0][0]
            for index in range(1, 71):  # 70 more bid levels below the best: the deepest fall off
                venue.flow_limit(BTC, Side.BUY, best - index * 7, btc.size("0.01"))
            rig.exchange.flush_books()
            await eventually(lambda: same_book(rig, feed, BTC))
            assert len(feed.syncs[BTC].book.bids()) == 50
            venue.flow_market(BTC, Side.SELL, btc.size("0.5"))  # eats the top: deeper levels move up
            rig.exchange.flush_books()
            await eventually(lambda: same_book(rig, feed, BTC))
            assert len(venue.engines[BTC].bids()) > 50 == len(feed.syncs[BTC].book.bids())
            assert feed.syncs[BTC].counters.gaps == 0
        finally:
            await feed.stop()
