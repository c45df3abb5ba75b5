"""KrakenTrading against the simulated Kraken exchange over a real socket: orders, queries, fills,
balances, errors and the rate counters."""

from __future__ import annotations

import base64
from dataclasses import replace

import aiohttp
import pytest

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.venues._shared.errors import RateLimited, VenueRejected
from tradestack.venues.kraken import rest_gateway as wire
from tradestack.venues.kraken.auth import KrakenSigner, NonceSource, form_body
from tradestack.venues.kraken.client_ids import InvalidClientId, to_kraken
from tradestack.venues.kraken.rate_limits import KrakenRateLimits, Tier, cancel_penalty
from tradestack.venues.kraken.rest_gateway import KrakenRestGateway
from tradestack.venues.kraken.symbols import common_asset, v2_symbol
from tradestack.venues.kraken.trading import KrakenTrading
from tradestack.venues.simulated_kraken.limits import Limits
from venues.kraken.kraken_rig import BTC, ETH, kraken_rig, sim_config

pytestmark = pytest.mark.timeout(30)


def order(
    instruments: dict[str, Instrument], client_id: str, side: Side, price: str, size: str, symbol: str = BTC
) -> Order:
    instrument = instruments[symbol]
    return Order(client_id, symbol, side, instrument.price(price), instrument.size(size))


def test_kraken_names_map_to_ours() -> None:
    assert v2_symbol("XBT/USDT") == "BTC/USDT" and v2_symbol("ETH/USD") == "ETH/USD"
    assert [common_asset(code) for code in ("XXBT", "XETH", "ZUSD", "USDT", "XXDG", "SOL")] == [
        "BTC",
        "ETH",
        "USD",
        "USDT",
        "DOGE",
        "SOL",
    ]
    assert to_kraken("ts1-12-345") == "ts1-12-345"
    assert to_kraken("d15708c1-dbb6-465d-b77d-47258319cc90") == "d15708c1-dbb6-465d-b77d-47258319cc90"
    for refused in ("x" * 19, "has space", ""):
        with pytest.raises(InvalidClientId):
            to_kraken(refused)
    assert [cancel_penalty(age * 1_000_000_000) for age in (0, 7, 60, 400)] == [8, 6, 2, 0]


async def test_instruments_come_from_asset_pairs() -> None:
    async with kraken_rig() as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.price_scale, btc.size_scale) == ("BTC", "USDT", 1, 5)
        assert btc.price_text(btc.price("60000.1")) == "60000.1"
        assert rig.gateway.pair(BTC) == "XBTUSDT"  # REST names the pair by its altname
        assert rig.gateway.symbol_of("XBTUSDT") == BTC
        assert abs(rig.gateway.venue_time_ns() - SystemClock().now_ns()) < 2_000_000_000


async def test_place_query_open_orders_and_cancel() -> None:
    async with kraken_rig() as rig:
        trading = rig.trading
        buy = order(rig.instruments, "ts1-4-1", Side.BUY, "50000.5", "0.01")
        report = await trading.submit_now(buy)
        assert report.status is OrderStatus.NEW and report.venue_order_id is not None
        placed = rig.exchange.order_by_client_id("ts1-4-1")  # the engine's id travels as cl_ord_id
        assert placed is not None and placed.price == buy.price

        seen = await trading.query(BTC, "ts1-4-1")
        assert seen is not None
        assert (seen.client_id, seen.status, seen.price, seen.size, seen.venue_order_id) == (
            "ts1-4-1",
            OrderStatus.NEW,
            buy.price,
            buy.size,
            report.venue_order_id,  # the txid's handle, the same however the order is found
        )
        by_id = await trading.query_by_venue_id(BTC, report.venue_order_id)
        assert by_id is not None and by_id.client_id == "ts1-4-1"
        assert [o.client_id for o in await trading.open_orders(BTC)] == ["ts1-4-1"]
        assert await trading.open_orders(ETH) == []

        balances = await trading.balances()  # totals: the locked USDT still counts
        assert balances["USDT"] == 100_000 * 10**ASSET_SCALE and balances["BTC"] == 10**ASSET_SCALE

        canceled = await trading.cancel(replace(buy, venue_order_id=report.venue_order_id))
        assert canceled.status is OrderStatus.CANCELED
        assert await trading.open_orders(BTC) == []
        again = await trading.query(BTC, "ts1-4-1")
        assert again is not None and again.status is OrderStatus.CANCELED
        assert await trading.query(BTC, "ts1-4-999") is None
        assert await trading.query_by_venue_id(BTC, 12345) is None

        with pytest.raises(VenueRejected) as not_open:
            await trading.cancel(buy)
        assert (not_open.value.code, not_open.value.msg) == (wire.UNKNOWN_ORDER, "EOrder:Unknown order")


async def test_fills_with_fees_oldest_first_from_since_on() -> None:
    async with kraken_rig() as rig:
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
        # after a restart nothing is known of the txids: their cl_ord_ids are asked (QueryOrders)
        fresh = KrakenTrading(rig.gateway, rig.instruments)
        assert await fresh.fills(BTC, None) == fills
        # trade ids are Kraken's own text, the TradesHistory keys, kept as they are
        assert [f.trade_id for f, _ in fills] == [exchange.trade_id(t) for t in exchange.trades(BTC)]
        assert all(f.trade_id.startswith("T") and f.trade_id.count("-") == 2 for f, _ in fills)
        taker = fills[-1][0]
        assert (taker.fee, taker.fee_asset) == (31_205_200, "USDT")  # 0.26% of 120.02 USDT
        assert fills[0][0].fee == 48_000_000  # maker 0.16% of 300 USDT
        sell = await trading.query(BTC, "mm-1-1")
        assert sell is not None and {venue_id for _, venue_id in fills[:3]} == {sell.venue_order_id}

        # Kraken does not number trades in order: `since` is a venue time, it included, and the
        # trades at that very time too (all of these happened within one millisecond or a few)
        since = await trading.fills(BTC, fills[1][0])
        assert fills[1][0] in [f for f, _ in since]
        assert [f for f, _ in since] == [f for f, _ in fills if f.ts_event >= fills[1][0].ts_event]
        later = replace(fills[-1][0], ts_event=fills[-1][0].ts_event + 1_000_000)
        assert await trading.fills(BTC, later) == []
        assert await trading.fills(ETH, None) == []

        filled = await trading.query(BTC, "mm-1-1")
        assert filled is not None and (filled.status, filled.filled) == (
            OrderStatus.FILLED,
            instrument.size("0.02"),
        )
        balances = await trading.balances()
        assert balances == {asset: b.free + b.locked for asset, b in exchange.balances().items()}
        assert balances["BTC"] == 10**ASSET_SCALE - 2_000_000 + 200_000


async def test_fills_page_through_trades_history() -> None:
    async with kraken_rig() as rig:
        trading, exchange = rig.trading, rig.exchange
        instrument = rig.instruments[BTC]
        await trading.submit_now(order(rig.instruments, "pg-1-1", Side.SELL, "60000", "0.1"))
        for _ in range(60):  # more than one page of 50
            exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.001"))
        fills = await trading.fills(BTC, None)
        assert len(fills) == 60 and sum(f.size for f, _ in fills) == instrument.size("0.06")
        assert [f.trade_id for f, _ in fills] == [exchange.trade_id(t) for t in exchange.trades(BTC)]


async def test_cancel_all_takes_one_symbol_off_and_cancel_all_pairs_the_rest() -> None:
    async with kraken_rig() as rig:
        trading = rig.trading
        for index in range(3):
            await trading.submit_now(order(rig.instruments, f"ca-1-{index}", Side.BUY, "40000", "0.001"))
        await trading.submit_now(order(rig.instruments, "ca-2-0", Side.BUY, "2000", "0.01", ETH))
        await trading.cancel_all(BTC)
        assert rig.exchange.open_orders(BTC) == []
        assert [o.client_order_id for o in rig.exchange.open_orders(ETH)] == ["ca-2-0"]
        await trading.cancel_all(BTC)  # nothing open: not an error
        assert await rig.gateway.cancel_all() == 1  # Kraken's CancelAll: every pair
        assert rig.exchange.open_orders() == []


async def test_rejections_come_back_as_kraken_says_them() -> None:
    async with kraken_rig() as rig:
        trading = rig.trading
        with pytest.raises(VenueRejected) as poor:
            await trading.submit_now(order(rig.instruments, "rj-1-1", Side.BUY, "60000", "100"))
        assert (poor.value.code, poor.value.msg) == (wire.INSUFFICIENT_FUNDS, "EOrder:Insufficient funds")
        await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        with pytest.raises(VenueRejected) as duplicate:  # a cl_ord_id is unique among open orders
            await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        assert duplicate.value.msg == "EOrder:Duplicate order"
        assert rig.exchange.order_count("rj-1-2") == 1
        with pytest.raises(VenueRejected) as small:
            await trading.submit_now(order(rig.instruments, "rj-1-3", Side.BUY, "50000", "0.00001"))
        assert small.value.code == wire.ORDER_MINIMUM

        requests = rig.exchange.rest.requests
        with pytest.raises(VenueRejected) as refused:  # 19 characters: refused before sending
            rig.trading.submit_now(order(rig.instruments, "ts1-123456-12345678", Side.BUY, "50000", "0.001"))
        assert refused.value.code == wire.INVALID_ARGUMENTS
        assert rig.exchange.rest.requests == requests


async def test_bad_signature_unknown_key_and_a_reused_nonce_are_refused() -> None:
    async with kraken_rig() as rig:
        clock = SystemClock()
        url = rig.exchange.rest_url
        forged = KrakenSigner(rig.key.api_key, base64.b64encode(b"not the secret").decode())
        async with KrakenRestGateway(forged, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as bad_sign:
                await gateway.balance()
            assert (bad_sign.value.code, bad_sign.value.msg) == (
                wire.INVALID_SIGNATURE,
                "EAPI:Invalid signature",
            )
        stranger = KrakenSigner(base64.b64encode(b"no such key").decode(), rig.key.secret)
        async with KrakenRestGateway(stranger, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as unknown:
                await gateway.balance()
            assert unknown.value.code == wire.INVALID_KEY

        # a nonce not above the key's last one is refused, however well signed
        ahead = KrakenRestGateway(rig.signer, clock=clock, base_url=url, nonces=NonceSource(last=2**62))
        async with ahead:
            await ahead.balance()
        with pytest.raises(VenueRejected) as stale:
            await rig.gateway.balance()
        assert (stale.value.code, stale.value.msg) == (wire.INVALID_NONCE, "EAPI:Invalid nonce")

        # and a request replayed byte for byte is a reused nonce
        body = form_body([("nonce", str(2**62 + 10))])
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(rig.signer.headers("/0/private/Balance", 2**62 + 10, body))
        async with aiohttp.ClientSession() as session:
            answers = []
            for _ in range(2):
                async with session.post(f"{url}/0/private/Balance", data=body, headers=headers) as response:
                    answers.append(await response.json())
        assert answers[0]["error"] == [] and "XXBT" in answers[0]["result"]  # Kraken's asset names
        assert answers[1] == {"error": ["EAPI:Invalid nonce"], "result": {}}


async def test_the_venue_call_counter_refuses_and_ours_refuses_before_sending() -> None:
    # the venue is stricter than the tier we assume: its refusal is a typed RateLimited
    async with kraken_rig(sim_config(limits=Limits(rest_max=3, rest_decay_per_s=0.01))) as rig:
        for _ in range(3):
            await rig.gateway.balance()
        with pytest.raises(RateLimited) as venue_refused:
            await rig.gateway.balance()
        assert venue_refused.value.http_status == 200
        assert rig.exchange.counters.refused == 1

    # our own per-pair trading counter: new orders stop at 75% of the threshold, nothing is sent
    async with kraken_rig() as rig:
        tight = KrakenRateLimits(
            Tier(rest_max=20, rest_decay_per_s=1, trading_max=8, trading_decay_per_s=0.01)
        )
        gateway = KrakenRestGateway(
            rig.signer, clock=SystemClock(), base_url=rig.exchange.rest_url, limits=tight
        )
        async with gateway:
            await gateway.instruments()
            for index in range(6):
                await gateway.add_order(BTC, Side.BUY, "0.001", "50000", f"rl-1-{index}")
            requests = rig.exchange.rest.requests
            with pytest.raises(RateLimited) as ours:
                await gateway.add_order(BTC, Side.BUY, "0.001", "50000", "rl-1-9")
            assert ours.value.http_status is None and rig.exchange.rest.requests == requests
            assert gateway.usage_ratio() == pytest.approx(0.75, abs=0.01)
            # ETH has its own counter; a cancel may still use the headroom orders leave
            await gateway.add_order(ETH, Side.BUY, "0.01", "2000", "rl-2-0")
            assert await gateway.cancel_order(BTC, cl_ord_id="rl-1-0", age_ns=100_000_000_000) == 1  # costs 1
