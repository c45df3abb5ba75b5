"""BybitConnector, the runtime's view of Bybit, against the simulated exchange: every piece it builds
works together (one order directory for order entry and the private stream)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from conftest import eventually
from tradestack.app.venue_bybit import BybitConnector, private_url
from tradestack.app.venue_connector import Credentials, Endpoints, FeedTuning, VenueConnector
from tradestack.app.venue_registry import connect
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.ports import SystemClock
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey
from tradestack.security.secrets import Secret
from tradestack.venues._shared.feed_hooks import FeedObserver
from tradestack.venues.simulated_bybit import SimulatedBybitExchange
from venues.bybit.bybit_rig import MANUAL, sim_config

pytestmark = pytest.mark.timeout(30)

TUNING = FeedTuning(
    staleness_s=30.0,
    ping_idle_s=10.0,
    pong_timeout_s=5.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    snapshot_limit=50,
)


def test_the_private_url_follows_the_public_one() -> None:
    assert private_url(Endpoints("https://api.bybit.com", "wss://stream.bybit.com/v5/public/spot")) == (
        "wss://stream.bybit.com/v5/private"
    )
    given = Endpoints("r", "wss://a/v5/public/spot", "wss://b/v5/private")
    assert private_url(given) == "wss://b/v5/private"


async def test_connector_trades_streams_and_checks_the_key() -> None:
    async with SimulatedBybitExchange(sim_config(MANUAL)) as exchange:
        key = exchange.create_api_key(ips=("127.0.0.1",))
        endpoints = Endpoints(exchange.rest_url, exchange.public_ws_url)  # private URL derived
        connector: VenueConnector = connect(
            "bybit", endpoints, Credentials(Secret(key.api_key), Secret(key.secret)), SystemClock()
        )
        assert isinstance(connector, BybitConnector) and connector.pushes_balances
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
            await user.start()  # started means authenticated and subscribed
            await feed.start()
            try:
                await eventually(lambda: books == {"BTCUSDT": True, "ETHUSDT": True})
                btc = instruments["BTCUSDT"]
                sell = Order("cn-1-1", "BTCUSDT", Side.SELL, btc.price("60000"), btc.size("0.01"))
                placed = await trading.submit_now(sell)
                exchange.venue.flow_market("BTCUSDT", Side.BUY, btc.size("0.01"))
                await eventually(lambda: any(r.fill is not None for r in reports))
                pushed = next(r for r in reports if r.fill is not None)
                assert (pushed.status, pushed.venue_order_id) == (OrderStatus.FILLED, placed.venue_order_id)
                assert [f for f, _ in await trading.fills("BTCUSDT", None)] == [pushed.fill]
                await eventually(
                    lambda: balances == {a: b.free + b.locked for a, b in exchange.balances().items()}
                )
                assert 0 < connector.usage_ratio() < 1
                assert len(connector.api_key_fingerprint) == 12
            finally:
                await feed.stop()
                await user.stop()

            # a key that can withdraw is refused; rotating back to a trading key is accepted
            wide = exchange.create_api_key(
                ips=("127.0.0.1",), permissions={"Spot": ["SpotTrade"], "Wallet": ["Withdraw"]}
            )
            connector.use_credentials(Credentials(Secret(wide.api_key), Secret(wide.secret)))
            with pytest.raises(UnsafeApiKey):
                await connector.check_key(KeyPolicy(require_ip_whitelist=True))
            connector.use_credentials(Credentials(Secret(key.api_key), Secret(key.secret)))
            await connector.check_key(KeyPolicy(require_ip_whitelist=True))
        finally:
            await connector.close()
