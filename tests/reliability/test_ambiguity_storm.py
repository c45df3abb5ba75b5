"""Ambiguity storm, the short cut (a few hundred intents per transport); the full run (10,000 intents,
drop-ack 0-30%) is `scripts/ambiguity_storm.py`. Also each order-entry fault of the simulator alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from reliability.storm_battery import StormConfig, run_storm, storm_passed
from tradestack.domain.events import Side
from tradestack.ports import SystemClock
from tradestack.venues._shared.errors import OutcomeUnknown, VenueRejected
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange
from tradestack.venues.simulated.faults import OrderFaults

BTC = "BTCUSDT"


def check(report: dict[str, Any]) -> None:
    assert report["duplicates"] == 0, report["duplicate_ids"]
    assert report["mismatches"] == 0, report["mismatch_examples"]
    assert report["failed_while_live"] == 0
    assert report["unresolved"] == 0, report["unresolved_ids"]
    assert report["stuck_cancels"] == 0
    assert report["open_at_venue_after"] == 0
    assert report["unknowns"] > 0  # the storm did produce ambiguity
    assert report["checks_per_resolution"]["max"] <= report["checks_per_resolution"]["bound"]
    assert report["duplicate_probes_rejected_2010"] > 0
    assert storm_passed(report)


@pytest.mark.timeout(40)
async def test_storm_fast_path_no_duplicates_and_venue_agrees() -> None:
    report = await run_storm(StormConfig(intents=300, seed=11, drop_ack=0.3))
    print({k: report[k] for k in ("storm_s", "unknowns", "checks_per_resolution", "injected_total")})
    check(report)
    assert report["injected"].get("cancel:fill_on_cancel", 0) > 0


@pytest.mark.timeout(40)
async def test_storm_aiohttp_route_no_duplicates_and_venue_agrees() -> None:
    report = await run_storm(StormConfig(intents=150, seed=12, drop_ack=0.2, fast_path=False))
    check(report)
    assert report["fast_path_fallbacks"] == 0


# ---- each fault alone, through the gateway ----------------------------------------------------------------


@pytest.fixture
async def rig() -> AsyncIterator[tuple[SimulatedExchange, BinanceRestGateway]]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=0, seed=2)))
    await asyncio.wait_for(sim.start(), 10)
    sim.flow_step(5)
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(
        HmacSigner(key, secret), clock=SystemClock(), base_url=sim.rest_url, timeout_s=0.3
    )
    await asyncio.wait_for(gateway.start(), 10)
    await gateway.sync_time()
    try:
        yield sim, gateway
    finally:
        await asyncio.wait_for(gateway.close(), 10)
        await asyncio.wait_for(sim.stop(), 10)


def far_bid(sim: SimulatedExchange) -> str:
    bid = sim.book_levels(BTC, 1).bids[0][0]
    return sim.instrument(BTC).price_text(bid - bid // 20)


async def place(gateway: BinanceRestGateway, price: str, client_id: str, fast: bool) -> object:
    if fast:
        return await gateway.new_order_now(BTC, Side.BUY, "LIMIT", "0.001", price, "GTC", client_id)
    return await gateway.new_order(BTC, Side.BUY, "LIMIT", "0.001", price, "GTC", client_id)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("mode", "at_venue"),
    [("drop_ack", True), ("error_after_accept", True), ("slow_ack", True), ("error_before_accept", False)],
)
async def test_each_order_fault_is_ambiguous_to_the_client(
    rig: tuple[SimulatedExchange, BinanceRestGateway], mode: str, at_venue: bool, fast: bool
) -> None:
    sim, gateway = rig
    injector = sim.set_order_faults(OrderFaults(seed=1, slow_ack_s=0.6, **{mode: 1.0}))
    assert injector is not None
    with pytest.raises(OutcomeUnknown):
        await place(gateway, far_bid(sim), f"f-{mode}", fast)
    assert sim.order_count(f"f-{mode}") == (1 if at_venue else 0)
    assert injector.counts == {f"order:{mode}": 1}
    sim.set_order_faults(None)  # the gateway still works afterwards
    await place(gateway, far_bid(sim), "after", fast)
    assert sim.order_count("after") == 1


@pytest.mark.timeout(20)
async def test_late_accept_and_reordered_answers(rig: tuple[SimulatedExchange, BinanceRestGateway]) -> None:
    sim, gateway = rig
    sim.set_order_faults(OrderFaults(seed=1, late_accept=1.0, late_accept_s=0.5))
    with pytest.raises(OutcomeUnknown):  # held past the client's 0.3 s timeout
        await gateway.new_order(BTC, Side.BUY, "LIMIT", "0.001", far_bid(sim), "GTC", "late")
    assert sim.order_count("late") == 0  # not yet ...
    await asyncio.sleep(0.4)
    assert sim.order_count("late") == 1  # ... but within the receive window it arrives

    sim.set_order_faults(OrderFaults(seed=3, reorder_ack=1.0, reorder_max_s=0.1))
    finished: list[str] = []

    async def one(n: int) -> None:
        await gateway.new_order(BTC, Side.BUY, "LIMIT", "0.001", far_bid(sim), "GTC", f"r-{n}")
        finished.append(f"r-{n}")

    await asyncio.gather(*(one(n) for n in range(8)))
    accepted = sorted(finished, key=lambda cid: sim.order_by_client_id(cid).order_id)  # type: ignore[union-attr]
    assert sorted(finished) == sorted(accepted) and finished != accepted  # answered out of order


@pytest.mark.timeout(20)
async def test_fill_on_cancel_and_duplicate_client_id(
    rig: tuple[SimulatedExchange, BinanceRestGateway],
) -> None:
    sim, gateway = rig
    bid = sim.book_levels(BTC, 1).bids[0][0]
    price = sim.instrument(BTC).price_text(bid)
    await gateway.new_order(BTC, Side.BUY, "LIMIT", "0.001", price, "GTC", "c-1")
    with pytest.raises(VenueRejected) as duplicate:
        await gateway.new_order(BTC, Side.BUY, "LIMIT", "0.001", price, "GTC", "c-1")
    assert duplicate.value.code == -2010
    assert sim.order_count("c-1") == 1
    injector = sim.set_order_faults(OrderFaults(seed=1, fill_on_cancel=1.0))
    assert injector is not None
    with pytest.raises(VenueRejected) as unknown:
        await gateway.cancel_order(BTC, "c-1")
    assert unknown.value.code == -2011  # it filled just before the cancel reached it
    view = sim.order_by_client_id("c-1")
    assert view is not None and view.status.name == "FILLED"
    assert injector.counts == {"cancel:fill_on_cancel": 1}


def test_fault_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match=r"0\.\.1"):
        OrderFaults(drop_ack=1.5)
    with pytest.raises(ValueError, match="sum"):
        OrderFaults(drop_ack=0.6, error_after_accept=0.6)
    assert not OrderFaults().active
