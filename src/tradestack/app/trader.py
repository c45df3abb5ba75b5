"""Carries out the engine's commands at a venue and turns every outcome back into an engine event.

The one rule that prevents double orders lives here: an order whose outcome is unknown is never sent
again. It is resolved by querying the venue by client order id until the venue either shows it or can
no longer accept it (its request timestamp is older than the venue's receive window).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import structlog

from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.engine.commands import Cancel, CancelAll, Command, Submit
from tradestack.engine.core import Engine
from tradestack.ports import Clock, TradingVenue
from tradestack.store import crash_points
from tradestack.venues._shared.errors import NotExecuted, OutcomeUnknown, VenueError, VenueRejected

log = structlog.get_logger("tradestack.trader")

NANOS = 1_000_000_000
# Binance: -2014 "API-key format invalid", -2015 "Invalid API-key, IP, or permissions for action"
AUTH_FAILURES = frozenset({-2014, -2015})


def report_from(order: Order, status: OrderStatus | None = None) -> OrderReport:
    """A venue's view of an order (from a query) as a report the engine applies."""
    return OrderReport(
        client_id=order.client_id,
        symbol=order.symbol,
        status=status or order.status,
        venue_order_id=order.venue_order_id,
        filled_total=order.filled,
        fill=None,
        reason=order.reason,
        ts_event=0,
    )


class Trader:
    def __init__(
        self,
        engine: Engine,
        venue: TradingVenue,
        clock: Clock,
        recv_window_ns: int = 5 * NANOS,
        check_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0),
        on_command: Callable[[Command], None] | None = None,
        on_auth_failure: Callable[[], object] | None = None,
    ) -> None:
        self.on_auth_failure = on_auth_failure or (lambda: None)  # re-read a rotated key at once
        self.on_command = on_command or (lambda command: None)  # the audit trail hooks in here
        self.engine = engine
        self.venue = venue
        self.clock = clock
        self.recv_window_ns = recv_window_ns
        self.check_delays = check_delays
        self._tasks: set[asyncio.Task[None]] = set()

    def execute(self, commands: Iterable[Command]) -> None:
        for command in commands:
            if isinstance(command, Submit):
                self._submit(command.order)  # first: the order leaves before any bookkeeping
                self.on_command(command)
                continue
            self.on_command(command)
            if isinstance(command, Cancel):
                self._spawn(self._cancel(command.order))
            elif isinstance(command, CancelAll):
                self._spawn(self._cancel_all(command.symbol))

    def apply(self, report: OrderReport) -> None:
        self.execute(self.engine.on_report(report))

    @property
    def in_flight(self) -> int:
        """Commands still being carried out (submits awaiting an answer, cancels, resolutions)."""
        return len(self._tasks)

    async def drain(self, within_s: float = 10.0) -> None:
        """Wait for every command in flight (used at shutdown and in tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=within_s)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _submit(self, order: Order) -> None:
        if crash_points.armed:  # the kill -9 battery only (one attribute check otherwise)
            crash_points.reached("after_intent", order.client_id, self.engine.journal.flush)
        try:
            answer = self.venue.submit_now(order)  # the request is written before this returns
        except VenueError as error:
            self._submit_failed(order, error)
            return
        except Exception as error:  # a bug must not kill the market-data callback this runs in
            # we cannot know whether bytes left: treat it as unknown and ask the venue, never resend
            log.exception("order submit raised", venue=self.venue.name, client_id=order.client_id)
            self.execute(self.engine.on_submit_failed(order, OrderStatus.UNKNOWN, type(error).__name__))
            self._spawn(self.resolve(order))
            return
        if crash_points.armed:
            # a Task is the aiohttp route, whose bytes leave a loop turn later: the battery counts those
            crash_points.reached(
                "after_send", f"{order.client_id} deferred={isinstance(answer, asyncio.Task)}"
            )
        self._spawn(self._await_answer(order, answer))

    async def _await_answer(self, order: Order, answer: Awaitable[OrderReport]) -> None:
        try:
            report = await answer
        except VenueError as error:
            self._submit_failed(order, error)
            if isinstance(error, OutcomeUnknown):
                await self.resolve(order)
            return
        if crash_points.armed:
            crash_points.reached("after_ack", order.client_id)
        self.apply(report)

    def _submit_failed(self, order: Order, error: VenueError) -> None:
        if isinstance(error, VenueRejected) and error.code in AUTH_FAILURES:
            self.on_auth_failure()
        if isinstance(error, VenueRejected):
            self.execute(self.engine.on_submit_failed(order, OrderStatus.REJECTED, str(error.code)))
        elif isinstance(error, NotExecuted):  # not sent, or rate limited: certainly not at the venue
            self.execute(self.engine.on_submit_failed(order, OrderStatus.REJECTED, type(error).__name__))
        elif isinstance(error, OutcomeUnknown):
            log.warning(
                "order outcome unknown",
                venue=self.venue.name,
                symbol=order.symbol,
                client_id=order.client_id,
                reason=error.reason,
            )
            self.execute(self.engine.on_submit_failed(order, OrderStatus.UNKNOWN, error.reason))

    async def resolve(self, order: Order) -> None:
        """Query until the venue shows the order or can no longer accept it. Never resend."""
        for delay in self.check_delays:
            await asyncio.sleep(delay)
            try:
                seen = await self.venue.query(order.symbol, order.client_id)
            except VenueError as error:
                log.info(
                    "order query failed; will retry",
                    venue=self.venue.name,
                    symbol=order.symbol,
                    client_id=order.client_id,
                    error=str(error),
                )
                continue
            if seen is not None:
                self.apply(report_from(seen))
                return
            if self.clock.now_ns() - order.created_ns > self.recv_window_ns + NANOS:
                # past the receive window the venue rejects that request: it will never exist
                self.execute(self.engine.on_submit_failed(order, OrderStatus.REJECTED, "not_at_venue"))
                return
        log.error(
            "order still unresolved; left UNKNOWN for reconciliation",
            venue=self.venue.name,
            symbol=order.symbol,
            client_id=order.client_id,
        )

    async def _cancel(self, order: Order) -> None:
        try:
            self.apply(await self.venue.cancel(order))
        except VenueRejected:
            # usually "unknown order": it filled or was canceled already; ask the venue which
            self.engine.on_cancel_failed(order)
            await self._refresh(order)
        except NotExecuted:
            self.engine.on_cancel_failed(order)
        except OutcomeUnknown:
            await self._refresh(order)

    async def _refresh(self, order: Order) -> None:
        try:
            seen = await self.venue.query(order.symbol, order.client_id)
        except VenueError:
            return
        if seen is not None:
            self.apply(report_from(seen))

    async def _cancel_all(self, symbol: str) -> None:
        try:
            await self.venue.cancel_all(symbol)
        except VenueError as error:
            log.error("cancel-all failed", venue=self.venue.name, symbol=symbol, error=str(error))
        for order in list(self.engine.orders.live(symbol)):
            await self._refresh(order)
