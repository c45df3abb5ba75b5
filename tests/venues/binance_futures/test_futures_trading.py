"""BinanceFuturesTrading against the simulated USD-M exchange over a real socket: orders, queries,
fills with fees, positions, post-only and duplicate-id refusals, usage headers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues._shared.rate_limit import LimitKind, RateLimiter, UsageLimit
from tradestack.venues.binance.rest_gateway import limits_from_exchange_info
from venues.binance_futures.futures_rig import futures_rig

pytestmark = pytest.mark.timeout(30)

BTC = "BTCUSDT"
USDT = 10**ASSET_SCALE


def order(instruments: dict[str, Instrument], client_id: str, side: Side, price: str, size: str) -> Order:
    instrument = instruments[BTC]
    return Order(client_id, BTC, side, instrument.price(price), instrument.size(size))


async def test_a_contract_is_a_linear_instrument_named_for_its_position() -> None:
    async with futures_rig() as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.kind) == ("BTCUSDT-PERP", "USDT", InstrumentKind.LINEAR)
        assert (btc.price_scale, btc.size_scale, btc.tick, btc.lot) == (1, 3, 1, 1)
        assert btc.min_notional == btc.price("100") * 10**btc.size_scale


async def test_place_query_open_orders_cancel_and_cancel_all() -> None:
    async with futures_rig() as rig:
        trading = rig.trading
        buy = order(rig.instruments, "ts-1-1", Side.BUY, "50000.0", "0.010")
        report = await trading.submit_now(buy)
        assert (report.status, report.filled_total) == (OrderStatus.NEW, 0)
        assert report.venue_order_id is not None

        seen = await trading.query(BTC, "ts-1-1")
        assert seen is not None
        assert (seen.client_id, seen.side, seen.price, seen.size, seen.status) == (
            "ts-1-1",
            Side.BUY,
            buy.price,
            buy.size,
            OrderStatus.NEW,
        )
        by_id = await trading.query_by_venue_id(BTC, report.venue_order_id)
        assert by_id is not None and by_id.client_id == "ts-1-1"
        assert [o.client_id for o in await trading.open_orders(BTC)] == ["ts-1-1"]
        assert await trading.query(BTC, "ts-1-999") is None  # -2013: does not exist

        canceled = await trading.cancel(buy)
        assert (canceled.status, canceled.client_id) == (OrderStatus.CANCELED, "ts-1-1")
        with pytest.raises(VenueRejected) as gone:  # -2011: no longer open
            await trading.cancel(buy)
        assert gone.value.code == -2011

        for index in range(3):
            ask = order(rig.instruments, f"ts-1-{10 + index}", Side.SELL, "70000", "0.002")
            await trading.submit_now(ask)
        assert len(await trading.open_orders(BTC)) == 3
        await trading.cancel_all(BTC)
        assert await trading.open_orders(BTC) == [] and rig.exchange.open_orders(BTC) == []
        await trading.cancel_all(BTC)  # nothing open: futures answer code 200, not an error


async def test_fills_carry_fees_and_the_position_is_signed() -> None:
    async with futures_rig() as rig:
        trading, venue = rig.trading, rig.exchange.venue
        instrument = rig.instruments[BTC]
        # we sell short 0.020 as maker: others buy it at market in two pieces
        await trading.submit_now(order(rig.instruments, "mm-1-1", Side.SELL, "60000.0", "0.020"))
        venue.flow_market(BTC, Side.BUY, instrument.size("0.015"))
        venue.flow_market(BTC, Side.BUY, instrument.size("0.005"))
        # then buy back 0.005 as taker from a participant's ask, 100 lower: a realised profit
        venue.flow_limit(BTC, Side.SELL, instrument.price("59900.0"), instrument.size("1"))
        await trading.submit_now(order(rig.instruments, "mm-1-2", Side.BUY, "59900.0", "0.005"))

        fills = await trading.fills(BTC, None)
        assert [(f.side, f.size, f.price) for f, _ in fills] == [
            (Side.SELL, instrument.size("0.015"), instrument.price("60000")),
            (Side.SELL, instrument.size("0.005"), instrument.price("60000")),
            (Side.BUY, instrument.size("0.005"), instrument.price("59900")),
        ]
        assert fills[0][0].fee == 18 * USDT // 100  # 2 bps of 900 USDT, maker
        assert fills[2][0].fee == 14_975_000  # 5 bps of 299.5 USDT, taker
        assert {f.fee_asset for f, _ in fills} == {"USDT"}
        trade_ids = [int(f.trade_id) for f, _ in fills]
        assert trade_ids == sorted(trade_ids)  # ordered integers: `since` is a trade id (fromId)
        assert [f for f, _ in await trading.fills(BTC, fills[1][0])] == [f for f, _ in fills[1:]]
        after_last = replace(fills[-1][0], trade_id=str(trade_ids[-1] + 1))
        assert await trading.fills(BTC, after_last) == []

        balances = await trading.balances()
        assert balances["BTCUSDT-PERP"] == -15 * 10**ASSET_SCALE // 1000  # short 0.015
        assert balances["ETHUSDT-PERP"] == 0  # flat contracts are listed as 0
        # the wallet moved by the realised 0.5 USDT and the fees only, never by the notional
        fees = sum(f.fee for f, _ in fills)
        assert balances["USDT"] == 100_000 * USDT + USDT // 2 - fees
        risk = await rig.gateway.position_risk(BTC)
        assert (risk[0].position_amt, risk[0].entry_price) == ("-0.015", "60000.00000000")


async def test_post_only_that_would_cross_is_refused_and_never_rests() -> None:
    async with futures_rig(post_only=True) as rig:
        trading, venue = rig.trading, rig.exchange.venue
        instrument = rig.instruments[BTC]
        venue.flow_limit(BTC, Side.SELL, instrument.price("60000.0"), instrument.size("1"))
        with pytest.raises(VenueRejected) as crossing:
            await trading.submit_now(order(rig.instruments, "po-1-1", Side.BUY, "60000.0", "0.010"))
        assert crossing.value.code == -5022
        assert rig.exchange.order_count("po-1-1") == 0 and await trading.fills(BTC, None) == []
        resting = await trading.submit_now(order(rig.instruments, "po-1-2", Side.BUY, "59999.9", "0.010"))
        assert resting.status is OrderStatus.NEW
        assert rig.exchange.order_by_client_id("po-1-2") is not None


async def test_an_open_client_id_is_refused_once_and_the_order_is_not_doubled() -> None:
    async with futures_rig() as rig:
        trading = rig.trading
        await trading.submit_now(order(rig.instruments, "dp-1-1", Side.BUY, "50000.0", "0.010"))
        with pytest.raises(VenueRejected) as duplicate:
            await trading.submit_now(order(rig.instruments, "dp-1-1", Side.BUY, "50000.0", "0.010"))
        assert duplicate.value.code == -4116
        assert rig.exchange.order_count("dp-1-1") == 1


async def test_usage_headers_feed_the_limiter() -> None:
    async with futures_rig() as rig:
        gateway = rig.gateway
        info = await gateway.futures_exchange_info()
        gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
        assert gateway.limiter.usage_ratio(gateway.venue_time_ns()) == 0.0
        gateway.warm()  # signs and serializes an order for the caches: nothing counted or sent
        assert gateway.limiter.usage_ratio(gateway.venue_time_ns()) == 0.0
        assert rig.exchange.order_count("warm-0") == 0
        for index in range(12):
            bid = order(rig.instruments, f"us-1-{index}", Side.BUY, "50000.0", "0.010")
            await rig.trading.submit_now(bid)
        await gateway.position_risk()  # weight 5; orders weigh 0 on the IP limit
        now = gateway.venue_time_ns()
        # the tightest window: 12 of 300 orders per 10 s (the venue's X-MBX-ORDER-COUNT-10S)
        assert gateway.limiter.usage_ratio(now) == pytest.approx(12 / 300)
        assert rig.exchange.rest.limits.orders_per_10s == 300


async def test_a_listen_key_waits_for_a_full_window_instead_of_failing() -> None:
    # a restart after a busy minute must still get its user stream back: listen-key calls wait for
    # our own limiter as reads do (orders never wait)
    async with futures_rig() as rig:
        gateway = rig.gateway
        window = UsageLimit(LimitKind.REQUEST_WEIGHT, 1_000_000_000, 2, "X-NOT-REPORTED")
        gateway.limiter = RateLimiter([window], 1.0)
        key = await gateway.create_listen_key()  # weight 1
        await gateway.keepalive_listen_key(key)  # weight 1: the one-second window is full
        assert gateway.limiter.usage_ratio(gateway.venue_time_ns()) == 1.0
        assert await gateway.create_listen_key() == key  # waited for the next second, then sent
