"""KrakenConnector, as the runtime uses it, against the simulated Kraken exchange over real sockets."""

from __future__ import annotations

import pytest
import structlog

from conftest import eventually
from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.app.venue_registry import NATIVE_SYMBOLS, connect
from tradestack.domain.events import Side
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order
from tradestack.ports import SystemClock
from tradestack.security.key_permissions import KeyPolicy
from tradestack.security.secrets import Secret
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues.simulated_kraken import SimulatedKrakenExchange
from venues.kraken.kraken_rig import BTC, ETH, sim_config

pytestmark = pytest.mark.timeout(30)


async def test_the_connector_trades_and_warns_that_key_permissions_cannot_be_read() -> None:
    assert NATIVE_SYMBOLS["kraken"] == {"BTCUSDT": BTC, "ETHUSDT": ETH}
    async with SimulatedKrakenExchange(sim_config()) as exchange:
        key = exchange.create_api_key()
        endpoints = Endpoints(exchange.rest_url, exchange.public_ws_url, exchange.private_ws_url)
        connector = connect(
            "kraken", endpoints, Credentials(Secret(key.api_key), Secret(key.secret)), SystemClock()
        )
        await connector.start()
        try:
            with structlog.testing.capture_logs() as logs:
                await connector.check_key(KeyPolicy())  # refuses nothing: Kraken reports no permissions
            assert any("does not report a key's permissions" in entry["event"] for entry in logs)
            instruments = await connector.instruments([BTC, "DOGE/USDT"])
            assert list(instruments) == [BTC]
            trading = connector.trading(instruments)
            reports: list[OrderReport] = []
            stream = connector.user_stream(
                instruments,
                lambda r, ts: reports.append(r),
                lambda b: None,
                lambda: None,
                lambda reason: None,
            )
            await stream.start()  # returns once subscribed to `executions`
            try:
                btc = instruments[BTC]
                placed = await trading.submit_now(
                    Order("cn-1-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.01"))
                )
                await eventually(lambda: bool(reports))
                assert reports[0].venue_order_id == placed.venue_order_id  # one directory for both
                assert 0 < connector.usage_ratio() < 1
                assert await trading.account_id() == await trading.account_id()
            finally:
                await stream.stop()

            # a revoked key: the next signed call is refused as Kraken refuses it
            exchange.revoke_api_key(key.api_key)
            with pytest.raises(VenueRejected) as refused:
                await connector.check_key(KeyPolicy())
            assert refused.value.msg == "EAPI:Invalid key"
        finally:
            await connector.close()


async def test_the_connector_reports_when_each_order_was_written() -> None:
    written: list[tuple[str, int]] = []
    async with SimulatedKrakenExchange(sim_config()) as exchange:
        key = exchange.create_api_key()
        endpoints = Endpoints(exchange.rest_url, exchange.public_ws_url, exchange.private_ws_url)
        connector = connect(
            "kraken",
            endpoints,
            Credentials(Secret(key.api_key), Secret(key.secret)),
            SystemClock(),
            on_order_written=lambda client_id, sent_ns: written.append((client_id, sent_ns)),
        )
        await connector.start()
        try:
            instruments = await connector.instruments([BTC])
            trading = connector.trading(instruments)
            btc = instruments[BTC]
            before = SystemClock().monotonic_ns()
            await trading.submit_now(Order("cn-2-1", BTC, Side.BUY, btc.price("50000"), btc.size("0.01")))
            await trading.cancel_all(BTC)  # cancels and queries are not orders written: not reported
        finally:
            await connector.close()
    assert [client_id for client_id, _ in written] == ["cn-2-1"]  # cl_ord_id is our client id
    assert written[0][1] >= before
