"""CoinbaseTrading against the simulated Coinbase Exchange over a real socket: orders, queries, errors,
limits; and the client id <-> client_oid codec."""

from __future__ import annotations

import uuid
from dataclasses import replace

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.app.venue_coinbase import CoinbaseConnector
from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.security.secrets import Secret
from tradestack.venues._shared.errors import NotSent, RateLimited, VenueRejected
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner, exchange_timestamp
from tradestack.venues.coinbase.client_ids import InvalidClientId, from_coinbase, order_handle, to_coinbase
from tradestack.venues.coinbase.rate_limits import BucketSpec, CoinbaseRateLimits
from tradestack.venues.coinbase.rest_gateway import CoinbaseRestGateway
from tradestack.venues.coinbase.trading import CoinbaseTrading, fee_amount
from tradestack.venues.simulated_coinbase import SimulatedCoinbaseExchange
from venues.coinbase.coinbase_rig import MANUAL, coinbase_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC = "BTC-USD"


def order(instruments: dict[str, Instrument], client_id: str, side: Side, price: str, size: str) -> Order:
    instrument = instruments[BTC]
    return Order(client_id, BTC, side, instrument.price(price), instrument.size(size))


# ---- ids -------------------------------------------------------------------------------------------


def test_engine_ids_travel_as_uuids_and_read_back() -> None:
    for engine_id in ("ts1-0-0", "ts-12-345", "abcdefghijkl-262143-16383", "Z-99999999999-999", "plain42"):
        client_oid = to_coinbase(engine_id)
        parsed = uuid.UUID(client_oid)
        assert (str(parsed), parsed.version, parsed.variant) == (client_oid, 4, uuid.RFC_4122)
        assert from_coinbase(client_oid) == engine_id
    foreign = "1822e338-8e16-b740-e998-fcc33dcfc443"  # another tool's client_oid: itself, both ways
    assert from_coinbase(foreign) == foreign and to_coinbase(foreign) == foreign
    assert from_coinbase("") == ""
    with pytest.raises(InvalidClientId):
        to_coinbase("has spaces")
    with pytest.raises(InvalidClientId):
        to_coinbase("a" * 17)  # not an engine id, longer than 16 characters
    with pytest.raises(InvalidClientId):
        to_coinbase(to_coinbase("ts-1-2"))  # a UUID that would read back as "ts-1-2"
    assert to_coinbase("ts-1-2") != to_coinbase("ts-1-3")


@given(
    st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True),
    st.integers(0, 2**18 - 1),
    st.integers(0, 2**14 - 1),
)
def test_every_engine_id_round_trips(prefix: str, block: int, seq: int) -> None:
    engine_id = f"{prefix}-{block}-{seq}"
    assert from_coinbase(to_coinbase(engine_id)) == engine_id


@given(st.from_regex(r"[.A-Za-z0-9:/_-]{1,16}", fullmatch=True))
def test_every_short_id_round_trips(client_id: str) -> None:
    assert from_coinbase(to_coinbase(client_id)) == client_id


@given(st.uuids())
def test_foreign_uuids_read_back_as_themselves(value: uuid.UUID) -> None:
    text = str(value)
    decoded = from_coinbase(text)
    assert decoded == text or to_coinbase(decoded) == text
    assert 0 <= order_handle(text) < 2**63


def test_fees_past_eight_decimals_round_up() -> None:
    assert fee_amount("0.0120020000000000") == 1_200_200
    assert fee_amount("0.0000000100000001") == 2


# ---- orders ----------------------------------------------------------------------------------------


async def test_instruments_come_from_the_product_list() -> None:
    async with coinbase_rig() as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.price_scale, btc.size_scale) == ("BTC", "USD", 2, 6)
        assert abs(rig.gateway.venue_time_ns() - SystemClock().now_ns()) < 2_000_000_000


async def test_place_query_open_orders_and_cancel() -> None:
    async with coinbase_rig() as rig:
        trading = rig.trading
        buy = order(rig.instruments, "ts-4-1", Side.BUY, "50000.5", "0.01")
        report = await trading.submit_now(buy)
        assert report.status is OrderStatus.NEW
        assert report.venue_order_id is not None
        # the engine's id travels as a client_oid UUID and reads back as the engine's
        venue_order = rig.exchange.order_by_client_oid(to_coinbase("ts-4-1"))
        assert venue_order is not None and venue_order.quantity == buy.size

        seen = await trading.query(BTC, "ts-4-1")
        assert seen is not None
        assert (seen.client_id, seen.status, seen.price, seen.size, seen.venue_order_id) == (
            "ts-4-1",
            OrderStatus.NEW,
            buy.price,
            buy.size,
            report.venue_order_id,
        )
        by_id = await trading.query_by_venue_id(BTC, report.venue_order_id)
        assert by_id is not None and by_id.client_id == "ts-4-1"
        assert [o.client_id for o in await trading.open_orders(BTC)] == ["ts-4-1"]
        assert (await trading.balances())["USD"] == 100_000 * 10**ASSET_SCALE  # totals: locked counts

        canceled = await trading.cancel(buy)
        assert canceled.status is OrderStatus.CANCELED
        assert await trading.open_orders(BTC) == []
        again = await trading.query(BTC, "ts-4-1")
        assert again is not None and again.status is OrderStatus.CANCELED
        assert await trading.query(BTC, "ts-4-999") is None  # 404 NotFound -> None
        assert await trading.query_by_venue_id(BTC, 12345) is None

        with pytest.raises(VenueRejected) as not_open:
            await trading.cancel(buy)
        assert (not_open.value.code, not_open.value.msg) == (400, "Order already done")
        with pytest.raises(VenueRejected) as unknown:
            await trading.cancel(order(rig.instruments, "ts-4-77", Side.BUY, "1", "1"))
        assert (unknown.value.code, unknown.value.msg) == (404, "NotFound")


async def test_fills_and_balances_after_a_match() -> None:
    async with coinbase_rig() as rig:
        trading, exchange = rig.trading, rig.exchange
        instrument = rig.instruments[BTC]
        await trading.submit_now(order(rig.instruments, "mm-1-1", Side.SELL, "60000", "0.02"))
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.005"))
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.001"))
        exchange.venue.flow_limit(BTC, Side.SELL, instrument.price("60010"), instrument.size("1"))
        exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.014"))  # takes the rest of ours
        await trading.submit_now(order(rig.instruments, "mm-1-2", Side.BUY, "60010", "0.002"))
        fresh = CoinbaseTrading(rig.gateway, rig.instruments)  # knows no order: asks the venue
        fills = await fresh.fills(BTC, None)
        assert [(f.side, f.size, f.client_id) for f, _ in fills] == [
            (Side.SELL, instrument.size("0.005"), "mm-1-1"),
            (Side.SELL, instrument.size("0.001"), "mm-1-1"),
            (Side.SELL, instrument.size("0.014"), "mm-1-1"),
            (Side.BUY, instrument.size("0.002"), "mm-1-2"),
        ]
        taker = fills[-1][0]
        assert (taker.fee, taker.fee_asset) == (12_002_000, "USD")  # 0.1% of 120.02 USD
        assert fills[0][0].fee == 15_000_000  # maker: 0.05% of 300 USD
        sell = await fresh.query(BTC, "mm-1-1")
        assert sell is not None and {handle for _, handle in fills[:3]} == {sell.venue_order_id}
        assert (sell.status, sell.filled) == (OrderStatus.FILLED, instrument.size("0.02"))
        trade_ids = [int(f.trade_id) for f, _ in fills]
        assert trade_ids == sorted(trade_ids)  # numbered in order: `since` is a trade id
        after_last = replace(fills[-1][0], trade_id=str(trade_ids[-1] + 1))
        assert await trading.fills(BTC, after_last) == []
        assert [f for f, _ in await trading.fills(BTC, fills[1][0])] == [f for f, _ in fills[1:]]
        owner = await fresh.query_by_venue_id(BTC, fills[-1][1])
        assert owner is not None and owner.client_id == "mm-1-2"

        balances = await trading.balances()
        assert balances == {asset: b.free + b.locked for asset, b in exchange.balances().items()}
        assert balances["BTC"] == 10**ASSET_SCALE - 2_000_000 + 200_000
        assert await trading.account_id() == order_handle(exchange.config.profile_id)


async def test_open_orders_page_and_cancel_all() -> None:
    async with coinbase_rig(sim_config(rate_limits=(("private", 1000, 1000),))) as rig:
        rig.gateway.limits = CoinbaseRateLimits({"private": BucketSpec(1000, 1000)})
        trading = rig.trading
        for index in range(103):  # more than one page of 100
            await trading.submit_now(order(rig.instruments, f"ca-1-{index}", Side.BUY, "40000", "0.001"))
        listed = await trading.open_orders(BTC)
        assert sorted(o.client_id for o in listed) == sorted(f"ca-1-{i}" for i in range(103))
        await trading.cancel_all(BTC)
        assert await trading.open_orders(BTC) == []
        assert rig.exchange.open_orders(BTC) == []
        await trading.cancel_all(BTC)  # nothing open: not an error


async def test_rejections_insufficient_funds_bad_price_post_only() -> None:
    async with coinbase_rig() as rig:
        trading = rig.trading
        with pytest.raises(VenueRejected) as poor:
            await trading.submit_now(order(rig.instruments, "rj-1-1", Side.BUY, "60000", "100"))
        assert (poor.value.code, poor.value.msg, poor.value.http_status) == (400, "Insufficient funds", 400)
        with pytest.raises(VenueRejected) as precise:  # finer than the quote increment
            await rig.gateway.place_order(BTC, Side.BUY, "0.001", "50000.001", to_coinbase("rj-1-2"))
        assert precise.value.code == 400 and precise.value.msg.startswith("Invalid price")
        await trading.submit_now(order(rig.instruments, "rj-1-3", Side.SELL, "60000", "0.001"))
        with pytest.raises(VenueRejected) as post_only:
            await rig.gateway.place_order(
                BTC, Side.BUY, "0.001", "60000.00", to_coinbase("rj-1-4"), post_only=True
            )
        assert post_only.value.msg == "rejected: post only"
        assert rig.exchange.order_count(to_coinbase("rj-1-1")) == 0


async def test_a_client_id_coinbase_refuses_is_refused_before_sending() -> None:
    async with coinbase_rig() as rig:
        requests = rig.exchange.rest.requests
        with pytest.raises(VenueRejected) as refused:
            rig.trading.submit_now(order(rig.instruments, "bad id with spaces", Side.BUY, "50000", "0.001"))
        assert refused.value.code == 400 and "Invalid client_oid" in refused.value.msg
        assert rig.exchange.rest.requests == requests
        assert await rig.trading.query(BTC, "bad id with spaces") is None


async def test_bad_signature_wrong_passphrase_and_expired_timestamp_are_refused() -> None:
    async with coinbase_rig() as rig:
        clock = SystemClock()
        url = rig.exchange.rest_url
        other_secret = rig.exchange.create_api_key().secret
        forged = CoinbaseExchangeSigner(rig.key.api_key, other_secret, rig.key.passphrase)
        async with CoinbaseRestGateway(forged, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as bad_sign:
                await gateway.accounts()
            assert (bad_sign.value.code, bad_sign.value.msg) == (401, "invalid signature")
        wrong = CoinbaseExchangeSigner(rig.key.api_key, rig.key.secret, "wrong-passphrase")
        async with CoinbaseRestGateway(wrong, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as bad_passphrase:
                await gateway.accounts()
            assert (bad_passphrase.value.code, bad_passphrase.value.msg) == (401, "Invalid Passphrase")
        stale = exchange_timestamp(clock.now_ns() - 31_000_000_000)
        headers = rig.signer.headers(stale, "GET", "/accounts")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/accounts", headers=headers) as response,
        ):
            body = await response.json()
        assert (response.status, body) == (400, {"message": "request timestamp expired"})


async def test_rate_limit_429_is_a_typed_error_and_empties_our_bucket() -> None:
    config = sim_config(rate_limits=(("private", 1, 3),))
    async with coinbase_rig(config) as rig:
        # our bucket knows the published 15/s burst 30; the venue is stricter here: its 429 decides
        for index in range(3):
            await rig.trading.submit_now(order(rig.instruments, f"rl-1-{index}", Side.BUY, "40000", "0.001"))
        with pytest.raises(RateLimited) as limited:
            await rig.trading.submit_now(order(rig.instruments, "rl-1-9", Side.BUY, "40000", "0.001"))
        assert limited.value.http_status == 429
        assert 0 < (limited.value.retry_after_seconds or 0) <= 1
        assert rig.exchange.order_count(to_coinbase("rl-1-9")) == 0
        refused = rig.exchange.limits.refused
        with pytest.raises(RateLimited) as held:  # our bucket is empty now: held back locally
            await rig.trading.balances()
        assert held.value.http_status is None
        assert rig.exchange.limits.refused == refused
        assert rig.gateway.usage_ratio() > 0.9
        assert (await rig.gateway.book(BTC)).sequence > 0  # the public budget is another one


async def test_our_bucket_keeps_us_under_the_published_limit() -> None:
    async with coinbase_rig() as rig:
        rig.gateway.limits = CoinbaseRateLimits({"private": BucketSpec(15, 30)}, safety_ratio=0.9)
        held: RateLimited | None = None
        for index in range(100):  # burst 27 of 30, refilling 13/s
            try:
                await rig.trading.submit_now(
                    order(rig.instruments, f"pl-1-{index}", Side.BUY, "40000", "0.001")
                )
            except RateLimited as limited:
                held = limited
                break
        assert held is not None and held.http_status is None  # ours, never the venue's 429
        assert rig.exchange.limits.refused == 0
        assert rig.gateway.usage_ratio() >= 0.95


async def test_venue_down_is_not_sent() -> None:
    exchange = SimulatedCoinbaseExchange(sim_config())
    await exchange.start()
    url = exchange.rest_url
    key = exchange.create_api_key()
    await exchange.stop()
    signer = CoinbaseExchangeSigner(key.api_key, key.secret, key.passphrase)
    async with CoinbaseRestGateway(signer, clock=SystemClock(), base_url=url, timeout_s=2.0) as gateway:
        with pytest.raises(NotSent):
            await gateway.accounts()
        assert CoinbaseTrading(gateway, {}).name == "coinbase"


async def test_book_endpoint_equals_the_venue_book() -> None:
    async with coinbase_rig(sim_config(MANUAL)) as rig:
        book = await rig.gateway.book(BTC)
        levels = rig.exchange.book_levels(BTC)
        instrument = rig.instruments[BTC]
        assert [(instrument.price(p), instrument.size(s)) for p, s, _ in book.bids] == levels.bids
        assert [(instrument.price(p), instrument.size(s)) for p, s, _ in book.asks] == levels.asks
        assert book.sequence == levels.update_id


async def test_the_connector_reports_when_each_order_was_written_under_our_client_id() -> None:
    written: list[tuple[str, int]] = []
    async with coinbase_rig() as rig:
        exchange, key = rig.exchange, rig.key
        connector = CoinbaseConnector(
            Endpoints(exchange.rest_url, exchange.ws_url),
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
    assert [client_id for client_id, _ in written] == ["mm-1-7"]  # the client_oid UUID mapped back
    assert written[0][1] >= before
