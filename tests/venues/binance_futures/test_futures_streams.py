"""The USD-M user stream and market feed against the simulated futures exchange, real sockets:
pushed fills equal REST fills, ACCOUNT_UPDATE's position equals positionRisk, and depth diffs chained
by `pu` keep the book equal to the venue's (a lost diff resyncs that symbol alone)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from conftest import eventually
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.venues._shared.ws_session import SessionState
from tradestack.venues.binance.feed import FeedSettings
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance_futures.feed import BinanceFuturesMarketFeed
from tradestack.venues.binance_futures.user_stream import BinanceFuturesUserStream
from venues.binance_futures.futures_rig import MANUAL, Rig, futures_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC, ETH = "BTCUSDT", "ETHUSDT"


class Pushed:
    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.balances: dict[str, int] = {}

    def on_report(self, report: OrderReport, ts_recv: int) -> None:
        self.reports.append(report)

    def on_balances(self, event: Balances) -> None:
        self.balances.update(event.totals)


async def running_user_stream(rig: Rig, sink: Pushed) -> BinanceFuturesUserStream:
    stream = BinanceFuturesUserStream(
        rig.exchange.ws_url,
        rig.gateway,
        rig.instruments,
        SystemClock(),
        sink.on_report,
        sink.on_balances,
        lambda: None,
    )
    await stream.start()
    session = stream.session
    assert session is not None
    await eventually(lambda: session.state is SessionState.RUNNING)
    return stream


async def test_pushed_fills_equal_rest_fills_and_the_pushed_position_equals_position_risk() -> None:
    async with futures_rig() as rig:
        sink = Pushed()
        stream = await running_user_stream(rig, sink)
        try:
            btc = rig.instruments[BTC]
            venue = rig.exchange.venue
            short = Order("us-1-1", BTC, Side.SELL, btc.price("60000.0"), btc.size("0.020"))
            placed = await rig.trading.submit_now(short)
            venue.flow_market(BTC, Side.BUY, btc.size("0.005"))
            venue.flow_market(BTC, Side.BUY, btc.size("0.015"))
            await eventually(lambda: any(r.status is OrderStatus.FILLED for r in sink.reports))
            new, partial, filled = sink.reports
            assert (new.client_id, new.status, new.venue_order_id) == (
                "us-1-1",
                OrderStatus.NEW,
                placed.venue_order_id,
            )
            assert (partial.status, partial.filled_total) == (OrderStatus.PARTIALLY_FILLED, btc.size("0.005"))
            assert (filled.status, filled.filled_total) == (OrderStatus.FILLED, btc.size("0.020"))
            pushed = [r.fill for r in (partial, filled) if r.fill is not None]
            assert {f.client_id for f in pushed} == {"us-1-1"}
            # REST fills name no client id: the runtime joins them to orders by venue order id
            rest = await rig.trading.fills(BTC, None)
            assert [replace(f, client_id="") for f in pushed] == [fill for fill, _ in rest]
            assert {venue_order_id for _, venue_order_id in rest} == {placed.venue_order_id}

            # ACCOUNT_UPDATE carried the wallet and the signed position, as REST reports them
            await eventually(lambda: sink.balances.get("BTCUSDT-PERP") == -2 * 10**ASSET_SCALE // 100)
            at_rest = await rig.trading.balances()
            assert sink.balances["BTCUSDT-PERP"] == at_rest["BTCUSDT-PERP"]
            assert sink.balances["USDT"] == at_rest["USDT"]
            assert [r.position_amt for r in await rig.gateway.position_risk(BTC)] == ["-0.020"]

            # a cancel is pushed with the order's own client id
            resting = Order("us-1-2", BTC, Side.BUY, btc.price("50000.0"), btc.size("0.003"))
            await rig.trading.submit_now(resting)
            await rig.trading.cancel(resting)
            await eventually(lambda: sink.reports[-1].status is OrderStatus.CANCELED)
            assert sink.reports[-1].client_id == "us-1-2"
        finally:
            await stream.stop()


async def test_the_user_stream_comes_back_after_a_drop_and_its_listen_key_is_kept_alive() -> None:
    async with futures_rig() as rig:
        sink = Pushed()
        reconnects: list[int] = []
        stream = BinanceFuturesUserStream(
            rig.exchange.ws_url,
            rig.gateway,
            rig.instruments,
            SystemClock(),
            sink.on_report,
            sink.on_balances,
            lambda: reconnects.append(1),
        )
        await stream.start()
        session = stream.session
        assert session is not None
        try:
            await eventually(lambda: session.state is SessionState.RUNNING)
            await rig.gateway.keepalive_listen_key(stream.listen_key)  # PUT /fapi/v1/listenKey
            assert rig.exchange.drop_user_connections() == 1
            await eventually(lambda: reconnects == [1] and session.state is SessionState.RUNNING)
            btc = rig.instruments[BTC]
            await rig.trading.submit_now(
                Order("rc-1-1", BTC, Side.BUY, btc.price("50000.0"), btc.size("0.003"))
            )
            await eventually(lambda: [r.client_id for r in sink.reports] == ["rc-1-1"])
        finally:
            await stream.stop()
        assert rig.exchange.listen_keys.active() == []  # DELETE /fapi/v1/listenKey on stop


# ---- market data ----------------------------------------------------------------------------------


class Books:
    def __init__(self) -> None:
        self.synced: dict[str, bool] = {}
        self.trades: list[TradePrint] = []

    def on_book(self, symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        self.synced[symbol] = synced

    def on_trade(self, trade: TradePrint) -> None:
        self.trades.append(trade)


def same_book(rig: Rig, feed: BinanceFuturesMarketFeed, symbol: str) -> bool:
    venue = rig.exchange.book_levels(symbol)
    book = feed.syncs[symbol].book
    return (
        feed.synced(symbol)
        and book.last_update_id == venue.update_id
        and (book.bids() == venue.bids and book.asks() == venue.asks)
    )


async def steps(rig: Rig, count: int) -> None:
    for _ in range(count):
        rig.exchange.flow_step()
        rig.exchange.flush_depth()
        await asyncio.sleep(0)


async def stepping_until(rig: Rig, condition: Callable[[], bool]) -> None:
    """Step the flow while waiting: a book syncs only once diffs arrive to bracket its snapshot."""

    async def stepped() -> bool:
        await steps(rig, 1)
        await asyncio.sleep(0.01)
        return condition()

    await eventually(stepped)


def feed_for(rig: Rig, sink: Books) -> BinanceFuturesMarketFeed:
    return BinanceFuturesMarketFeed(
        rig.exchange.ws_url,
        rig.instruments,
        rig.gateway,
        SystemClock(),
        sink.on_book,
        sink.on_trade,
        FeedSettings(backoff_initial_s=0.05, backoff_max_s=0.2),
    )


async def test_the_feed_book_equals_the_venue_and_a_lost_diff_resyncs_one_symbol() -> None:
    async with futures_rig(sim_config(MANUAL)) as rig:
        sink = Books()
        feed = feed_for(rig, sink)
        await feed.start()
        try:
            await stepping_until(rig, feed.all_synced)
            await steps(rig, 20)
            for symbol in (BTC, ETH):
                await eventually(lambda symbol=symbol: same_book(rig, feed, symbol))
                assert feed.syncs[symbol].counters.gaps == 0
            await eventually(lambda: len(sink.trades) > 0)  # aggTrade prints

            rig.exchange.skip_next_depth_update(BTC)
            await steps(rig, 3)
            await eventually(lambda: feed.syncs[BTC].counters.gaps == 1)  # pu != the last u
            await stepping_until(rig, lambda: same_book(rig, feed, BTC))
            assert feed.syncs[ETH].counters.gaps == 0 and feed.syncs[ETH].counters.resyncs == 0
        finally:
            await feed.stop()
