"""Ports: the protocols the engine depends on. Adapters implement them; the domain never sees them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import Fill


class Clock(Protocol):
    """Injected time. `now_ns` is wall time for records; `monotonic_ns` for staleness and latency."""

    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class SystemClock:
    """The real clock; the only place wall and monotonic time are read in production."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._wall = start_ns
        self._mono = 0

    def now_ns(self) -> int:
        return self._wall

    def monotonic_ns(self) -> int:
        return self._mono

    def advance(self, nanoseconds: int) -> None:
        self._wall += nanoseconds
        self._mono += nanoseconds


class JournalState(NamedTuple):
    orders: list[Order]
    fills: list[Fill]  # to apply: all of them, or those after the positions snapshot
    meta: dict[str, str]
    seen_fills: tuple[Fill, ...] = ()  # in the snapshot already: remembered as seen, not applied
    snapshot: str | None = None  # positions and balances after every fill not in `fills`


class Journal(Protocol):
    """Durable record of intents, orders, fills and risk state.

    record_* calls return at once and are written behind the hot path; reserve_block and put_meta_sync
    return only once the write is durable.
    """

    def load(self, finished_limit: int | None = None, recent_fills: int | None = None) -> JournalState: ...

    def reserve_block(self) -> int: ...

    def reserve_block_later(self, on_reserved: Callable[[int], None]) -> None: ...

    def record_order(self, order: Order) -> None: ...

    def record_fill(self, fill: Fill) -> None: ...

    def record_snapshot(self, state: str) -> None:
        """Positions and balances after every fill recorded so far (the order of the calls)."""
        ...

    def put_meta(self, key: str, value: str) -> None: ...

    def put_meta_sync(self, key: str, value: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class EngineObserver(Protocol):
    """What the engine reports as it goes; the app binds it to metrics and audit records."""

    def order_sent(self, symbol: str, side: str) -> None: ...

    def order_rejected(self, symbol: str, reason: str) -> None: ...

    def order_unknown(self, symbol: str) -> None: ...

    def fill(self, symbol: str, side: str, latency_ns: int | None) -> None: ...

    def kill_switch(self, engaged: bool, reason: str) -> None: ...


class NullObserver:
    def order_sent(self, symbol: str, side: str) -> None:
        pass

    def order_rejected(self, symbol: str, reason: str) -> None:
        pass

    def order_unknown(self, symbol: str) -> None:
        pass

    def fill(self, symbol: str, side: str, latency_ns: int | None) -> None:
        pass

    def kill_switch(self, engaged: bool, reason: str) -> None:
        pass


class TradingVenue(Protocol):
    """Order entry at one venue, in domain values. Failures raise the venue errors of venues/_shared.

    The adapter never retries order entry: an OutcomeUnknown is resolved by `query`.
    """

    name: str

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        """Send the order before returning (no event-loop turn on the hot path); await the answer.

        Raises NotExecuted subclasses synchronously when nothing could be written.
        """
        ...

    async def cancel(self, order: Order) -> OrderReport: ...

    async def cancel_all(self, symbol: str) -> None: ...

    async def query(self, symbol: str, client_id: str) -> Order | None:
        """The venue's view of one order, or None when the venue says it does not exist."""
        ...

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None: ...

    async def open_orders(self, symbol: str) -> list[Order]: ...

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Our trades at the venue from `since` on, it included (all recent ones when None), oldest
        first, with venue order ids. A venue that numbers trades in order may start at its id; one
        that does not starts at its venue time (trades at that very time included)."""
        ...

    async def balances(self) -> dict[str, int]:
        """Total (free + locked) per asset at positions.ASSET_SCALE."""
        ...
