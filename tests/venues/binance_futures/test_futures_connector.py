"""BinanceFuturesConnector, the runtime's view of USD-M, against the simulated futures exchange: the
pieces it builds work together, and the key check asks for futures trading, not spot."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from conftest import eventually
from tradestack.app.venue_binance_futures import BinanceFuturesConnector, key_check_url
from tradestack.app.venue_connector import Credentials, Endpoints, FeedTuning, VenueConnector
from tradestack.app.venue_registry import connect
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey
from tradestack.security.secrets import Secret
from tradestack.venues._shared.feed_hooks import FeedObserver
from tradestack.venues.simulated.auth import KeyPermissions
from tradestack.venues.simulated_binance_futures import SimulatedBinanceFuturesExchange
from venues.binance_futures.futures_rig import MANUAL, sim_config

pytestmark = pytest.mark.timeout(30)

TUNING = FeedTuning(
    staleness_s=30.0,
    ping_idle_s=10.0,
    pong_timeout_s=5.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    snapshot_limit=1000,
)


def test_live_futures_ask_the_spot_host_for_key_restrictions() -> None:
    assert key_check_url("https://fapi.binance.com") == "https://api.binance.com"
    assert key_check_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


async def test_connector_trades_streams_and_checks_the_key() -> None:
    async with SimulatedBinanceFuturesExchange(sim_config(MANUAL)) as exchange:
        api_key, secret = exchange.create_api_key(ip_whitelist=("127.0.0.1",))
        endpoints = Endpoints(exchange.rest_url, exchange.ws_url)
        credentials = Credentials(Secret(api_key), Secret(secret))
        connector: VenueConnector = connect("binance-futures", endpoints, credentials, SystemClock())
        assert isinstance(connector, BinanceFuturesConnector) and connector.pushes_balances
        await connector.start()
        reports: list[OrderReport] = []
        balances: dict[str, int] = {}
        books: dict[str, bool] = {}
        trades: list[TradePrint] = []

        def on_book(symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
            books[symbol] = synced

        def on_balances(pushed: Mapping[str, int]) -> None:
            balances.update(pushed)

        try:
            await connector.check_key(KeyPolicy(require_ip_whitelist=True))
            instruments = await connector.instruments(["BTCUSDT", "ETHUSDT", "NOPEUSDT"])
            assert sorted(instruments) == ["BTCUSDT", "ETHUSDT"]
            trading = connector.trading(instruments)
            user = connector.user_stream(
                instruments, lambda r, t: reports.append(r), on_balances, lambda: None, lambda why: None
            )
            feed = connector.market_feed(instruments, on_book, trades.append, TUNING, FeedObserver())
            await user.start()
            await feed.start()
            try:

                async def synced() -> bool:
                    exchange.flow_step()  # diffs must flow for a snapshot to be bracketed
                    exchange.flush_depth()
                    return books == {"BTCUSDT": True, "ETHUSDT": True}

                await eventually(synced)
                session = user.session
                await eventually(lambda: session is not None and session.state.value == "running")
                btc = instruments["BTCUSDT"]
                best_bid = exchange.book_levels("BTCUSDT").bids[0][0]
                sell = Order("cn-1-1", "BTCUSDT", Side.SELL, best_bid, btc.size("0.010"))  # takes
                placed = await trading.submit_now(sell)
                await eventually(lambda: any(r.fill is not None for r in reports))
                pushed = next(r for r in reports if r.fill is not None)
                assert (pushed.status, pushed.venue_order_id) == (OrderStatus.FILLED, placed.venue_order_id)
                rest = [f for f, _ in await trading.fills("BTCUSDT", None)]
                assert [f.trade_id for f in rest] == [pushed.fill.trade_id if pushed.fill else ""]
                short = -10 * 10**ASSET_SCALE // 1000
                await eventually(lambda: balances.get("BTCUSDT-PERP") == short)
                assert (await trading.balances())["BTCUSDT-PERP"] == short
                assert 0 < connector.usage_ratio() < 1
                assert await trading.account_id() == int(connector.api_key_fingerprint, 16)
            finally:
                await feed.stop()
                await user.stop()

            # a key that can withdraw is refused; rotating back to the trading key is accepted
            wide_key, wide_secret = exchange.keys.create(
                "wide", KeyPermissions(ip_whitelist=("127.0.0.1",), enable_withdrawals=True)
            )
            connector.use_credentials(Credentials(Secret(wide_key), Secret(wide_secret)))
            with pytest.raises(UnsafeApiKey):
                await connector.check_key(KeyPolicy(require_ip_whitelist=True))
            connector.use_credentials(credentials)
            await connector.check_key(KeyPolicy(require_ip_whitelist=True))
        finally:
            await connector.close()
