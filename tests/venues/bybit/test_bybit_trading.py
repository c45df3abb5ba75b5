"""BybitTrading against the simulated Bybit exchange over a real socket: orders, queries, fills,
balances, errors and rate limits."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import SystemClock
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey, enforce_key_policy
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.client_ids import OrderDirectory, order_handle, to_bybit
from tradestack.venues.bybit.rest_gateway import BybitRestGateway
from tradestack.venues.bybit.trading import BybitTrading
from tradestack.venues.simulated_bybit import SimulatedBybitExchange
from venues.bybit.bybit_rig import bybit_rig, sim_config

pytestmark = pytest.mark.timeout(30)

BTC = "BTCUSDT"


def order(instruments: dict[str, Instrument], client_id: str, side: Side, price: str, size: str) -> Order:
    instrument = instruments[BTC]
    return Order(client_id, BTC, side, instrument.price(price), instrument.size(size))


async def test_instruments_come_from_the_venue_listing() -> None:
    async with bybit_rig() as rig:
        btc = rig.instruments[BTC]
        assert (btc.base, btc.quote, btc.price_scale, btc.size_scale) == ("BTC", "USDT", 2, 6)
        assert btc.price_text(btc.price("60000.1")) == "60000.10"
        assert abs(rig.gateway.venue_time_ns() - SystemClock().now_ns()) < 2_000_000_000


async def test_place_query_open_orders_and_cancel() -> None:
    async with bybit_rig() as rig:
        trading = rig.trading
        buy = order(rig.instruments, "ts-4-1", Side.BUY, "50000.5", "0.01")
        report = await trading.submit_now(buy)
        assert report.status is OrderStatus.NEW
        placed = rig.exchange.order_by_client_id("ts-4-1")  # the engine's id is the orderLinkId
        assert placed is not None and report.venue_order_id == placed.order_id

        seen = await trading.query(BTC, "ts-4-1")
        assert seen is not None
        assert (seen.client_id, seen.status, seen.price, seen.size) == (
            "ts-4-1",
            OrderStatus.NEW,
            buy.price,
            buy.size,
        )
        by_id = await trading.query_by_venue_id(BTC, placed.order_id)
        assert by_id is not None and by_id.client_id == "ts-4-1"
        assert [o.client_id for o in await trading.open_orders(BTC)] == ["ts-4-1"]

        # funds are locked: the total is unchanged, and balances are totals at ASSET_SCALE
        assert (await trading.balances())["USDT"] == 100_000 * 10**ASSET_SCALE

        canceled = await trading.cancel(buy)
        assert canceled.status is OrderStatus.CANCELED
        assert await trading.open_orders(BTC) == []
        again = await trading.query(BTC, "ts-4-1")  # closed orders are found in /v5/order/history
        assert again is not None and again.status is OrderStatus.CANCELED
        assert await trading.query(BTC, "ts-4-999") is None  # known nowhere
        assert await trading.query_by_venue_id(BTC, 987654321) is None

        with pytest.raises(VenueRejected) as not_open:  # 110001: no longer open
            await trading.cancel(buy)
        assert not_open.value.code == 110001


async def test_fills_with_fees_oldest_first_from_since() -> None:
    async with bybit_rig() as rig:
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
        maker, taker = fills[0][0], fills[-1][0]
        assert (maker.fee, maker.fee_asset) == (15_000_000, "USDT")  # 0.05% of 300 USDT, charged
        # 0.1% of 120.02 USDT (the shared core charges the quote coin; Bybit spot buys pay in base)
        assert (taker.fee, taker.fee_asset) == (12_002_000, "USDT")
        assert all(uuid.UUID(f.trade_id) for f, _ in fills)  # execIds are UUIDs, kept as text
        sell = exchange.order_by_client_id("mm-1-1")
        assert sell is not None and {venue_id for _, venue_id in fills[:3]} == {sell.order_id}

        # from `since` on, it included: every trade at or after its venue time
        later = [f for f, _ in await trading.fills(BTC, fills[1][0])]
        assert later == [f for f, _ in fills if f.ts_event >= fills[1][0].ts_event]
        assert fills[1][0] in later
        after_all = replace(fills[-1][0], ts_event=fills[-1][0].ts_event + 1_000_000)
        assert await trading.fills(BTC, after_all) == []

        filled = await trading.query(BTC, "mm-1-1")
        assert filled is not None
        assert (filled.status, filled.filled) == (OrderStatus.FILLED, instrument.size("0.02"))
        balances = await trading.balances()
        assert balances == {asset: b.free + b.locked for asset, b in exchange.balances().items()}


async def test_fills_page_through_more_than_one_page() -> None:
    async with bybit_rig() as rig:
        trading, exchange = rig.trading, rig.exchange
        instrument = rig.instruments[BTC]
        await trading.submit_now(order(rig.instruments, "pg-1-1", Side.SELL, "60000", "1"))
        for _ in range(130):  # more than one page of 100
            exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.001"))
        fills = await trading.fills(BTC, None)
        assert len(fills) == 130 == len({f.trade_id for f, _ in fills})
        times = [f.ts_event for f, _ in fills]
        assert times == sorted(times)


async def test_cancel_all_in_one_request() -> None:
    async with bybit_rig() as rig:
        trading = rig.trading
        for index in range(15):  # under 20 orders a second
            await trading.submit_now(order(rig.instruments, f"ca-1-{index}", Side.BUY, "40000", "0.001"))
        assert len(await trading.open_orders(BTC)) == 15
        await trading.cancel_all(BTC)
        assert await trading.open_orders(BTC) == []
        assert rig.exchange.open_orders(BTC) == []
        await trading.cancel_all(BTC)  # nothing open: not an error


async def test_rejections_insufficient_balance_and_duplicate_order_link_id() -> None:
    async with bybit_rig() as rig:
        trading = rig.trading
        with pytest.raises(VenueRejected) as poor:
            await trading.submit_now(order(rig.instruments, "rj-1-1", Side.BUY, "60000", "100"))
        assert (poor.value.code, poor.value.msg) == (170131, "Insufficient balance.")
        await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        with pytest.raises(VenueRejected) as duplicate:
            await trading.submit_now(order(rig.instruments, "rj-1-2", Side.BUY, "50000", "0.001"))
        assert duplicate.value.code == 110072
        assert rig.exchange.order_count("rj-1-2") == 1


async def test_a_client_id_bybit_refuses_is_refused_before_sending() -> None:
    async with bybit_rig() as rig:
        with pytest.raises(VenueRejected) as refused:
            rig.trading.submit_now(order(rig.instruments, "a" * 37, Side.BUY, "50000", "0.001"))
        assert refused.value.code == 10001
        with pytest.raises(VenueRejected):
            rig.trading.submit_now(order(rig.instruments, "has space", Side.BUY, "50000", "0.001"))
        assert rig.exchange.rest.requests == 2  # time, instruments, and nothing since
        assert await rig.trading.query(BTC, "has space") is None


def test_order_ids_become_stable_handles() -> None:
    assert to_bybit("mm-12-345") == "mm-12-345"
    assert order_handle("1321003749386327552") == 1321003749386327552
    text_id = "4c1b0a2e-2f0e-4a57-9b8e-5e4d1c2b3a19"
    directory = OrderDirectory()
    handle = directory.learn(text_id)
    assert handle == order_handle(text_id) and 0 <= handle < 2**63
    assert directory.order_id(handle) == text_id
    assert directory.order_id(42) == "42"


async def test_bad_signature_unknown_key_and_stale_timestamp_are_refused() -> None:
    async with bybit_rig() as rig:
        url, clock = rig.exchange.rest_url, SystemClock()
        wrong = BybitSigner(rig.key.api_key, "not-the-secret")
        async with BybitRestGateway(wrong, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as bad_sign:
                await gateway.wallet()
            assert (bad_sign.value.code, bad_sign.value.http_status) == (10004, 401)
        unknown = BybitSigner("nosuchkey", rig.key.secret)
        async with BybitRestGateway(unknown, clock=clock, base_url=url) as gateway:
            with pytest.raises(VenueRejected) as bad_key:
                await gateway.wallet()
            assert bad_key.value.code == 10003
        async with BybitRestGateway(rig.signer, clock=clock, base_url=url) as gateway:
            gateway._offset_ns = -10_000_000_000  # our clock 10 s behind: outside the 5 s recv window
            with pytest.raises(VenueRejected) as stale:
                await gateway.wallet()
            assert stale.value.code == 10002
        assert rig.exchange.open_orders() == []


async def test_rate_limit_headers_are_read_back_and_10006_blocks_the_window() -> None:
    config = sim_config(rate_limits=(("POST /v5/order/create", 4),))
    async with bybit_rig(config) as rig:
        trading = rig.trading
        await asyncio.sleep(1 - SystemClock().now_ns() % 10**9 / 10**9)  # all five in one 1 s window
        await trading.submit_now(order(rig.instruments, "rl-1-0", Side.BUY, "40000", "0.001"))
        reported = rig.gateway.limits.reported["POST /v5/order/create"]
        assert (reported.used, reported.limit) == (1, 4)
        assert rig.gateway.usage_ratio() >= 0.25  # the venue's report: 1 of its 4
        for index in range(1, 4):
            await trading.submit_now(order(rig.instruments, f"rl-1-{index}", Side.BUY, "40000", "0.001"))
        assert rig.gateway.usage_ratio() == 1.0  # 4 of 4 reported used
        with pytest.raises(RateLimited) as limited:
            await trading.submit_now(order(rig.instruments, "rl-1-9", Side.BUY, "40000", "0.001"))
        # held back by our limiter (the reported usage was raised into it) or refused with 10006
        assert rig.exchange.order_count("rl-1-9") == 0
        assert 0 < (limited.value.retry_after_seconds or 0) <= 1


async def test_venue_10006_is_rate_limited_and_blocks_locally() -> None:
    async with bybit_rig() as rig:
        rig.exchange.rest.fail_after["GET /v5/account/wallet-balance"] = 10006
        with pytest.raises(RateLimited) as limited:
            await rig.trading.balances()
        assert limited.value.http_status == 200  # Bybit answers 10006 in a 200
        requests = rig.exchange.rest.requests
        with pytest.raises(RateLimited) as held:  # the endpoint's window is blocked here now
            await rig.trading.balances()
        assert held.value.http_status is None and rig.exchange.rest.requests == requests
        assert (await rig.trading.open_orders(BTC)) == []  # other endpoints are not blocked


async def test_a_limit_bybit_reports_for_an_unknown_endpoint_is_adopted() -> None:
    config = sim_config(rate_limits=(("GET /v5/account/wallet-balance", 3),))
    async with bybit_rig(config) as rig:
        rig.gateway.limits.limits.pop("GET /v5/account/wallet-balance")  # as if never published
        await asyncio.sleep(1 - SystemClock().now_ns() % 10**9 / 10**9)  # one 1 s window
        await rig.trading.balances()
        assert rig.gateway.limits.limits["GET /v5/account/wallet-balance"] == 3
        await rig.trading.balances()  # 2 of 3: our budget is 90%, 2
        with pytest.raises(RateLimited) as held:
            await rig.trading.balances()
        assert held.value.http_status is None  # held back here, before the venue's 10006
        assert rig.exchange.limits.refused == 0


async def test_our_limiter_keeps_us_under_the_published_limit() -> None:
    async with bybit_rig() as rig:
        held: RateLimited | None = None
        for index in range(100):  # 20 per second; a window boundary may pass during the loop
            try:
                await rig.trading.submit_now(
                    order(rig.instruments, f"pl-1-{index}", Side.BUY, "40000", "0.001")
                )
            except RateLimited as limited:
                held = limited
                break
        assert held is not None and held.http_status is None  # ours, never the venue's 10006
        assert rig.exchange.limits.refused == 0


async def test_key_check_refuses_a_key_that_can_withdraw() -> None:
    async with bybit_rig() as rig:
        url, clock = rig.exchange.rest_url, SystemClock()
        policy = KeyPolicy(require_ip_whitelist=True)
        trading_only = rig.exchange.create_api_key(ips=("127.0.0.1",))
        async with BybitRestGateway(
            BybitSigner(trading_only.api_key, trading_only.secret), clock=clock, base_url=url
        ) as gateway:
            restrictions = await enforce_key_policy(gateway, policy, "bybit")
            assert restrictions.can_trade and not restrictions.can_withdraw
        withdraw = rig.exchange.create_api_key(
            ips=("127.0.0.1",), permissions={"Spot": ["SpotTrade"], "Wallet": ["AccountTransfer", "Withdraw"]}
        )
        async with BybitRestGateway(
            BybitSigner(withdraw.api_key, withdraw.secret), clock=clock, base_url=url
        ) as gateway:
            with pytest.raises(UnsafeApiKey) as unsafe:
                await enforce_key_policy(gateway, policy, "bybit")
            assert any("withdraw" in problem for problem in unsafe.value.problems)
        # the rig's key has no IP whitelist ("*"): refused when the policy requires one
        with pytest.raises(UnsafeApiKey):
            await enforce_key_policy(rig.gateway, policy, "bybit")


async def test_venue_down_is_not_sent() -> None:
    exchange = SimulatedBybitExchange(sim_config())
    await exchange.start()
    url = exchange.rest_url
    key = exchange.create_api_key()
    await exchange.stop()
    async with BybitRestGateway(
        BybitSigner(key.api_key, key.secret), clock=SystemClock(), base_url=url, timeout_s=2.0
    ) as gateway:
        trading = BybitTrading(gateway, {})
        with pytest.raises(NotSent):
            await gateway.wallet()
        assert trading.name == "bybit"


async def test_an_ambiguous_answer_is_outcome_unknown_and_resolved_by_query() -> None:
    async with bybit_rig() as rig:
        trading = rig.trading
        rig.exchange.rest.fail_after["POST /v5/order/create"] = 10016  # placed, then "server error"
        with pytest.raises(OutcomeUnknown):
            await trading.submit_now(order(rig.instruments, "ou-1-1", Side.BUY, "50000", "0.001"))
        rig.exchange.rest.fail_after["POST /v5/order/create"] = None  # placed, then the connection drops
        with pytest.raises(OutcomeUnknown):
            await trading.submit_now(order(rig.instruments, "ou-1-2", Side.BUY, "50000", "0.001"))
        # never resent by the gateway: one order each at the venue, found by their client ids
        assert [rig.exchange.order_count(c) for c in ("ou-1-1", "ou-1-2")] == [1, 1]
        for client_id in ("ou-1-1", "ou-1-2"):
            seen = await trading.query(BTC, client_id)
            assert seen is not None and seen.status is OrderStatus.NEW


async def test_fills_since_an_old_trade_walk_seven_day_ranges_and_account_id() -> None:
    async with bybit_rig() as rig:
        instrument = rig.instruments[BTC]
        await rig.trading.submit_now(order(rig.instruments, "wk-1-1", Side.SELL, "60000", "0.01"))
        rig.exchange.venue.flow_market(BTC, Side.BUY, instrument.size("0.004"))
        fills = await rig.trading.fills(BTC, None)
        assert len(fills) == 1
        day_ns = 24 * 3600 * 10**9
        old = replace(fills[0][0], ts_event=fills[0][0].ts_event - 20 * day_ns)
        requests = rig.exchange.rest.requests
        assert await rig.trading.fills(BTC, old) == fills
        assert rig.exchange.rest.requests - requests == 3  # days -20..-13, -13..-6, -6..+1
        assert await rig.trading.account_id() == rig.exchange.config.uid


async def test_an_ip_ban_holds_every_request_back_ten_minutes() -> None:
    async with bybit_rig() as rig:
        rig.exchange.rest.ban_next = True
        with pytest.raises(RateLimited) as banned:
            await rig.trading.balances()
        assert (banned.value.http_status, banned.value.retry_after_seconds) == (403, 600.0)
        requests = rig.exchange.rest.requests
        with pytest.raises(RateLimited) as held:  # any endpoint: the ban is the IP's
            await rig.trading.submit_now(order(rig.instruments, "ban-1-1", Side.BUY, "50000", "0.001"))
        assert held.value.http_status is None and 590 < (held.value.retry_after_seconds or 0) <= 600
        assert rig.exchange.rest.requests == requests


async def test_an_order_write_is_timed_for_tick_to_order() -> None:
    async with bybit_rig() as rig:
        written: list[tuple[str, int]] = []
        clock = SystemClock()
        timed = BybitRestGateway(
            rig.signer,
            clock=clock,
            base_url=rig.exchange.rest_url,
            on_order_written=lambda c, t: written.append((c, t)),
        )
        async with timed:
            trading = BybitTrading(timed, rig.instruments)
            before = clock.monotonic_ns()
            buy = order(rig.instruments, "tw-1-1", Side.BUY, "50000", "0.001")
            await trading.submit_now(buy)
            await trading.cancel(buy)
            await trading.balances()
        assert [client_id for client_id, _ in written] == ["tw-1-1"]  # order entry only
        assert before < written[0][1] < clock.monotonic_ns()
