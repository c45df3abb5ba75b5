"""OkxTrading against the simulated OKX exchange over a real socket: orders, queries, errors, limits."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.app.venue_okx import OkxConnector
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.security.secrets import Secret
from tradestack.venues._shared.errors import NotSent, RateLimited, VenueRejected
from tradestack.venues.okx.auth import OkxSigner, rest_timestamp
from tradestack.venues.okx.client_ids import InvalidClientId, from_okx, to_okx
from tradestack.venues.okx.rest_gateway import OkxRestGateway
from tradestack.venues.okx.trading import OkxTrading
from tradestack.venues.simulated_okx.server import SimulatedOkxExchange
from venues.okx.okx_rig import MANUAL, okx_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC = "BTC-USDT"


def order(rig_instruments: dict[str, Instrument], client_id: str, side: Side, price: str, size: str) -> Order:
    instrument = rig_instruments[BTC]
    return Order(client_id, BTC, side, instrument.price(price), instrument.size(size))


async def test_instruments_come_from_the_venue_listing() -> None:
    async with okx_rig() as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.price_scale, btc.size_scale) == ("BTC", "USDT", 1, 5)
        assert btc.price_text(btc.price("60000.1")) == "60000.1"
        assert abs(rig.gateway.venue_time_ns() - SystemClock().now_ns()) < 2_000_000_000


async def test_place_query_open_orders_and_cancel() -> None:
    async with okx_rig() as rig:
        trading = rig.trading
        buy = order(rig.instruments, "ts-4-1", Side.BUY, "50000.5", "0.01")
        report = await trading.submit_now(buy)
        assert report.status is OrderStatus.NEW
        assert report.venue_order_id is not None
        # the engine's id travels as an OKX clOrdId and reads back as the engine's
        assert rig.exchange.order_by_client_id("ts4Z4Z1") is None
        assert rig.exchange.order_by_client_id("tsZ4Z1") is not None

        seen = await trading.query(BTC, "ts-4-1")
        assert seen is not None
        assert (seen.client_id, seen.status, seen.price, seen.size) == (
            "ts-4-1",
            OrderStatus.NEW,
            buy.price,
            buy.size,
        )
        by_id = await trading.query_by_venue_id(BTC, report.venue_order_id)
        assert by_id is not None and by_id.client_id == "ts-4-1"
        assert [o.client_id for o in await trading.open_orders(BTC)] == ["ts-4-1"]

        # funds are locked: total unchanged, and balances are totals at ASSET_SCALE
        balances = await trading.balances()
        assert balances["USDT"] == 100_000 * 10**ASSET_SCALE

        buy.venue_order_id = report.venue_order_id
        canceled = await trading.cancel(buy)
        assert canceled.status is OrderStatus.CANCELED
        assert await trading.open_orders(BTC) == []
        again = await trading.query(BTC, "ts-4-1")
        assert again is not None and again.status is OrderStatus.CANCELED
        assert await trading.query(BTC, "ts-4-999") is None  # 51603 -> None

        with pytest.raises(VenueRejected) as not_open:  # 51400: already canceled
            await trading.cancel(buy)
        assert not_open.value.code == 51400


async def test_fills_and_balances_after_a_match() -> None:
    async with okx_rig() as rig:
        trading, exchange = rig.trading, rig.exchange
        instrument = rig.instruments[BTC]
        await trading.submit_now(order(rig.instruments, "mm-1-1", Side.SELL, "60000", "0.02"))
        # another participant buys at market twice: two maker fills of our resting sell
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.005"))
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.001"))
        # and our own taker buy against a participant's ask
        exchange.venue.flow_limit(BTC, Side.SELL, instrument.price("60010"), instrument.size("1"))
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.014"))  # takes the rest of ours
        await trading.submit_now(order(rig.instruments, "mm-1-2", Side.BUY, "60010", "0.002"))
        fills = await trading.fills(BTC, None)
        assert [(f.side, f.size, f.client_id) for f, _ in fills] == [
            (Side.SELL, instrument.size("0.005"), "mm-1-1"),
            (Side.SELL, instrument.size("0.001"), "mm-1-1"),
            (Side.SELL, instrument.size("0.014"), "mm-1-1"),
            (Side.BUY, instrument.size("0.002"), "mm-1-2"),
        ]
        taker = fills[-1][0]
        assert taker.fee == 12_002_000  # 0.1% of 120.02 USDT, charged (OKX writes it -0.12002)
        assert taker.fee_asset == "USDT"
        maker = fills[0][0]
        assert maker.fee == 15_000_000  # 0.05% of 300 USDT
        sell = exchange.order_by_client_id("mmZ1Z1")
        assert sell is not None and {venue_id for _, venue_id in fills[:3]} == {sell.order_id}
        trade_ids = [int(f.trade_id) for f, _ in fills]
        assert trade_ids == sorted(trade_ids)  # numbered in order: `since` is a trade id
        after_last = replace(fills[-1][0], trade_id=str(trade_ids[-1] + 1))
        assert await trading.fills(BTC, after_last) == []
        assert [f for f, _ in await trading.fills(BTC, fills[1][0])] == [f for f, _ in fills[1:]]

        filled = await trading.query(BTC, "mm-1-1")
        assert filled is not None
        assert (filled.status, filled.filled) == (OrderStatus.FILLED, instrument.size("0.02"))
        balances = await trading.balances()
        venue = exchange.balances()
        assert balances == {asset: b.free + b.locked for asset, b in venue.items()}
        assert balances["BTC"] == 10**ASSET_SCALE - 2_000_000 + 200_000


async def test_cancel_all_pages_and_batches() -> None:
    async with okx_rig() as rig:
        trading = rig.trading
        for index in range(23):  # more than one batch of 20
            await trading.submit_now(order(rig.instruments, f"ca-1-{index}", Side.BUY, "40000", "0.001"))
        assert len(await trading.open_orders(BTC)) == 23
        await trading.cancel_all(BTC)
        assert await trading.open_orders(BTC) == []
        assert rig.exchange.open_orders(BTC) == []
        await trading.cancel_all(BTC)  # nothing open: not an error


async def test_rejections_insufficient_balance_and_duplicate_client_id() -> None:
    async with okx_rig() as rig:
        trading = rig.trading
        with pytest.raises(VenueRejected) as poor:
            await trading.submit_now(order(rig.instruments, "rj-1-1", Side.BUY, "60000", "100"))
        assert (poor.value.code, poor.value.msg) == (
            51008,
            "Order failed. Insufficient USDT balance in account.",
        )
        await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        with pytest.raises(VenueRejected) as duplicate:
            await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        assert duplicate.value.code == 51016
        assert rig.exchange.order_count("rjZ1Z2") == 1


async def test_a_client_id_okx_refuses_is_refused_before_sending() -> None:
    async with okx_rig() as rig:
        requests = rig.exchange.rest.requests
        with pytest.raises(VenueRejected) as refused:
            rig.trading.submit_now(order(rig.instruments, "bad_id.with:chars", Side.BUY, "50000", "0.001"))
        assert refused.value.code == 51000
        with pytest.raises(VenueRejected):
            rig.trading.submit_now(order(rig.instruments, "x" * 33, Side.BUY, "50000", "0.001"))
        assert rig.exchange.rest.requests == requests


def test_client_id_codec_round_trips_and_refuses_ambiguity() -> None:
    for engine_id in ("ts-0-0", "ZZ-12-345", "aZ1-2-3", "abcdefghijkl-999999-999"):
        assert from_okx(to_okx(engine_id)) == engine_id
    assert to_okx("plain42") == "plain42" and from_okx("plain42") == "plain42"
    assert from_okx("") == ""
    with pytest.raises(InvalidClientId):
        to_okx("aZ1Z2")  # valid for OKX, but would read back as "a-1-2"
    with pytest.raises(InvalidClientId):
        to_okx("a" * 20 + "-123456-1234567")  # 34 characters once encoded


async def test_bad_signature_wrong_passphrase_and_expired_timestamp_are_refused() -> None:
    async with okx_rig() as rig:
        clock = SystemClock()
        forged = OkxSigner(rig.key.api_key, "NOT-THE-SECRET", rig.key.passphrase)
        async with OkxRestGateway(forged, clock=clock, base_url=rig.exchange.rest_url) as gateway:
            with pytest.raises(VenueRejected) as bad_sign:
                await gateway.balance()
            assert (bad_sign.value.code, bad_sign.value.http_status) == (50113, 401)
        wrong = OkxSigner(rig.key.api_key, rig.key.secret, "wrong-passphrase")
        async with OkxRestGateway(wrong, clock=clock, base_url=rig.exchange.rest_url) as gateway:
            with pytest.raises(VenueRejected) as bad_passphrase:
                await gateway.balance()
            assert bad_passphrase.value.code == 50105
        # a request signed 31 s in the past: 50102, however well signed
        stale = rest_timestamp(clock.now_ns() - 31_000_000_000)
        headers = rig.signer.headers(stale, "GET", "/api/v5/account/balance")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{rig.exchange.rest_url}/api/v5/account/balance", headers=headers) as response,
        ):
            body = await response.json()
        assert (response.status, body["code"], body["data"]) == (401, "50102", [])


async def test_rate_limit_50011_is_a_typed_error_and_blocks_the_window() -> None:
    config = sim_config(rate_limits=(("POST /api/v5/trade/order", 3),))
    async with okx_rig(config) as rig:
        trading = rig.trading
        # our limiter knows the published 60/2 s, the venue is stricter here: the venue's 429 decides
        for index in range(3):
            await trading.submit_now(order(rig.instruments, f"rl-1-{index}", Side.BUY, "40000", "0.001"))
        with pytest.raises(RateLimited) as limited:
            await trading.submit_now(order(rig.instruments, "rl-1-9", Side.BUY, "40000", "0.001"))
        assert limited.value.http_status == 429
        assert 0 < (limited.value.retry_after_seconds or 0) <= 2
        assert rig.exchange.order_count("rlZ1Z9") == 0
        # the window is blocked locally now: the next order is held back without reaching the venue
        refused = rig.exchange.limits.refused
        with pytest.raises(RateLimited) as held:
            await trading.submit_now(order(rig.instruments, "rl-1-10", Side.BUY, "40000", "0.001"))
        assert held.value.http_status is None
        assert rig.exchange.limits.refused == refused
        # another instrument has its own budget
        eth = rig.instruments["ETH-USDT"]
        other = Order("rl-2-1", "ETH-USDT", Side.BUY, eth.price("2000"), eth.size("0.01"))
        assert (await trading.submit_now(other)).status is OrderStatus.NEW
        assert 0 < rig.gateway.usage_ratio() <= 1


async def test_our_limiter_keeps_us_under_the_published_limit() -> None:
    async with okx_rig() as rig:
        held: RateLimited | None = None
        for index in range(200):  # 60 per 2 s window; a window boundary may pass during the loop
            try:
                await rig.trading.submit_now(
                    order(rig.instruments, f"pl-1-{index}", Side.BUY, "40000", "0.001")
                )
            except RateLimited as limited:
                held = limited
                break
        assert held is not None and held.http_status is None  # ours, never the venue's 429
        assert rig.exchange.limits.refused == 0
        assert rig.gateway.usage_ratio() >= 0.85  # 54 of 60: the 10% safety margin


async def test_venue_down_is_not_sent() -> None:
    exchange = SimulatedOkxExchange(sim_config())
    await exchange.start()
    url = exchange.rest_url
    key = exchange.create_api_key()
    await exchange.stop()
    signer = OkxSigner(key.api_key, key.secret, key.passphrase)
    async with OkxRestGateway(signer, clock=SystemClock(), base_url=url, timeout_s=2.0) as gateway:
        trading = OkxTrading(gateway, {})
        with pytest.raises(NotSent):
            await gateway.balance()
        assert trading.name == "okx"


async def test_seeded_flow_books_endpoint() -> None:
    async with okx_rig(sim_config(MANUAL)) as rig:
        book = await rig.gateway.books(BTC, 5)
        levels = rig.exchange.book_levels(BTC, 5)
        instrument = rig.instruments[BTC]
        assert [(instrument.price(p), instrument.size(s)) for p, s, *_ in book.bids] == levels.bids
        assert [(instrument.price(p), instrument.size(s)) for p, s, *_ in book.asks] == levels.asks


async def test_the_connector_reports_when_each_order_was_written_under_our_client_id() -> None:
    written: list[tuple[str, int]] = []
    async with okx_rig() as rig:
        exchange, key = rig.exchange, rig.key
        connector = OkxConnector(
            Endpoints(exchange.rest_url, exchange.public_ws_url, exchange.private_ws_url),
            Credentials(Secret(key.api_key), Secret(key.secret), Secret(key.passphrase)),
            SystemClock(),
            on_order_written=lambda client_id, sent_ns: written.append((client_id, sent_ns)),
        )
        await connector.start()
        try:
            trading = connector.trading(rig.instruments)
            before = SystemClock().monotonic_ns()
            await trading.submit_now(order(rig.instruments, "mm-1-7", Side.BUY, "50000", "0.001"))
            await trading.cancel_all(BTC)  # cancels are not orders written: not reported
        finally:
            await connector.close()
    assert [client_id for client_id, _ in written] == ["mm-1-7"]  # OKX's clOrdId mapped back
    assert written[0][1] >= before
