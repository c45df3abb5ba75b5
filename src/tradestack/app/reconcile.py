"""Start-up reconciliation: make our journal agree with the venue before the strategy may trade.

Order of work, per symbol: open orders (ours we did not know are adopted, so nothing is left working
unseen), orders we thought live but the venue does not show (queried one by one), then every venue fill
since the last one we hold (applied exactly once). Finally balances: the difference between what the
journal implies and what the venue reports is the position drift. A venue that does not answer fails
the start: never assume flat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import structlog

from tradestack.app.trader import report_from
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import TradeFloor, drift_percent
from tradestack.engine.core import Engine
from tradestack.ports import Clock, TradingVenue

log = structlog.get_logger("tradestack.reconcile")


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)
    fills_recovered: int = 0
    foreign_orders: int = 0
    in_flight: list[Order] = field(default_factory=list)
    drift_percent: dict[str, float] = field(default_factory=dict)
    venue_balances: dict[str, int] = field(default_factory=dict)


async def reconcile(
    engine: Engine,
    venue: TradingVenue,
    clock: Clock,
    trade_floor: Mapping[str, TradeFloor] | None = None,
    recv_window_ns: int = 5_000_000_000,
) -> ReconcileReport:
    """trade_floor: per symbol, the venue trades already in the balances we started from."""
    report = ReconcileReport()
    floors = trade_floor or {}
    for symbol in engine.instruments:
        await _orders(engine, venue, symbol, clock, recv_window_ns, report)
        await _fills(engine, venue, symbol, floors.get(symbol), report)
    report.venue_balances = await venue.balances()
    report.drift_percent = drift_by_symbol(engine, report.venue_balances)
    log.info(
        "reconciled",
        adopted=len(report.adopted),
        resolved=len(report.resolved),
        fills_recovered=report.fills_recovered,
        drift=report.drift_percent,
    )
    return report


def drift_by_symbol(engine: Engine, venue_balances: dict[str, int]) -> dict[str, float]:
    return {
        symbol: drift_percent(engine.ledger.balances.get(inst.base, 0), venue_balances.get(inst.base, 0))
        for symbol, inst in engine.instruments.items()
    }


async def _orders(
    engine: Engine,
    venue: TradingVenue,
    symbol: str,
    clock: Clock,
    recv_window_ns: int,
    report: ReconcileReport,
) -> None:
    open_orders = await venue.open_orders(symbol)
    at_venue = {order.client_id for order in open_orders}
    for seen in open_orders:
        known = engine.orders.orders.get(seen.client_id)
        if known is not None:
            engine.on_report(report_from(seen))
        elif engine.orders.ids.owns(seen.client_id):
            # sent by us before a crash, never journaled: adopt it so it is managed, not orphaned
            engine.orders.track(seen)
            engine.journal.record_order(seen)
            report.adopted.append(seen.client_id)
        else:
            report.foreign_orders += 1
    for order in [o for o in engine.orders.live(symbol) if o.client_id not in at_venue]:
        found = await venue.query(order.symbol, order.client_id)
        if found is not None:
            engine.on_report(report_from(found))
            report.resolved[order.client_id] = found.status.value
        elif clock.now_ns() - order.created_ns > recv_window_ns + 1_000_000_000:
            # past its receive window the venue can no longer accept that request: it never will exist
            engine.on_submit_failed(order, OrderStatus.REJECTED, "not_at_venue")
            report.resolved[order.client_id] = "not_at_venue"
        else:
            # sent just before a crash and maybe still in flight: it stays UNKNOWN (counted as
            # exposure) and is resolved in the background, so trading need not wait for it
            engine.on_submit_failed(order, OrderStatus.UNKNOWN, "in_flight_at_restart")
            report.in_flight.append(order)


async def recover_fills(
    engine: Engine, venue: TradingVenue, floors: Mapping[str, TradeFloor] | None = None
) -> int:
    """Fills the venue has that we missed (after a user-stream outage, say); applied once. Returns count."""
    report = ReconcileReport()
    for symbol in engine.instruments:
        await _fills(engine, venue, symbol, (floors or {}).get(symbol), report)
    return report.fills_recovered


async def _fills(
    engine: Engine, venue: TradingVenue, symbol: str, floor: TradeFloor | None, report: ReconcileReport
) -> None:
    since = engine.orders.recovery_start(symbol)
    by_venue_id = {o.venue_order_id: o.client_id for o in engine.orders.orders.values() if o.venue_order_id}
    for fill, venue_order_id in await venue.fills(symbol, since):
        if floor is not None and floor.covers(fill):
            continue  # already in the balances this journal started from
        client_id = by_venue_id.get(venue_order_id)
        if client_id is None:
            owner = await venue.query_by_venue_id(symbol, venue_order_id)
            client_id = owner.client_id if owner is not None else ""
        if client_id and not engine.orders.ids.owns(client_id) and client_id not in engine.orders.orders:
            continue  # someone else's trade on a shared account: not our position
        if engine.recover_fill(replace(fill, client_id=client_id)):
            report.fills_recovered += 1
