"""Every metric tradestack exports, defined once, on a registry owned by one app instance.

Hot paths never call `.labels()` (~2.5 µs each): they hold objects with children bound once
(`Metrics.for_symbol`, `for_exchange`, `for_stream`). The hottest values (market data receive
times, message counts, positions, PnL) are plain integers in cells that a custom collector turns
into samples at scrape time, so the event path stores an int and nothing else. Integer money and
sizes become floats only here, at export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from tradestack.domain.events import Side
from tradestack.ports import Clock

FILL_LATENCY_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)
TICK_TO_ORDER_BUCKETS = (
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
)
COMPONENT_STATES = ("starting", "running", "degraded", "stopped")
# Reasons come from venues and parsers; cap them so a chatty venue cannot explode cardinality.
MAX_REASONS_PER_EXCHANGE = 64
OVERFLOW_REASON = "other"

_NANOS = 1_000_000_000
_POW10: tuple[int, ...] = tuple(10**i for i in range(40))


class _AgeCell:
    """Monotonic ns of the last market data message; age is computed at scrape."""

    __slots__ = ("last_ns",)

    def __init__(self, last_ns: int) -> None:
        self.last_ns = last_ns

    def export(self, now_ns: int) -> float:
        return max(0, now_ns - self.last_ns) / _NANOS


class _FixedCell:
    """An exact integer in units of 10**-scale (a position, a PnL)."""

    __slots__ = ("scale", "units")

    def __init__(self, scale: int) -> None:
        self.units = 0
        self.scale = scale

    def export(self, now_ns: int) -> float:
        # int / int is correctly rounded: the only float step is this one.
        return self.units / _POW10[self.scale]


class _CountCell:
    """A monotonically increasing count that the hot path bumps with `+=`."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def export(self, now_ns: int) -> float:
        return float(self.value)


_Cell = _AgeCell | _FixedCell | _CountCell


class _ScrapeTimeFamily:
    def __init__(
        self, name: str, documentation: str, kind: Literal["gauge", "counter"], labelnames: tuple[str, ...]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.kind = kind
        self.labelnames = labelnames
        self.cells: dict[tuple[str, ...], _Cell] = {}

    def empty(self) -> CounterMetricFamily | GaugeMetricFamily:
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self, now_ns: int) -> CounterMetricFamily | GaugeMetricFamily:
        family = self.empty()
        for labels, cell in self.cells.items():
            family.add_metric(list(labels), cell.export(now_ns))
        return family


class _ScrapeTimeCollector:
    """Exports integer cells; reads the injected monotonic clock once per scrape."""

    def __init__(self, clock: Clock, families: Iterable[_ScrapeTimeFamily]) -> None:
        self._clock = clock
        self._families = tuple(families)

    def describe(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.empty()

    def collect(self) -> Iterator[Metric]:
        now_ns = self._clock.monotonic_ns()
        for family in self._families:
            yield family.collect(now_ns)


class _ReasonCounter:
    """Children of an {exchange, reason} counter, bound on first use and capped in number."""

    __slots__ = ("_children", "_counter", "_exchange")

    def __init__(self, counter: Counter, exchange: str) -> None:
        self._counter = counter
        self._exchange = exchange
        self._children: dict[str, Counter] = {}

    def inc(self, reason: str) -> None:
        child = self._children.get(reason)
        if child is None:
            child = self._bind(reason)
        child.inc()

    def _bind(self, reason: str) -> Counter:
        if len(self._children) >= MAX_REASONS_PER_EXCHANGE:
            reason = OVERFLOW_REASON
            existing = self._children.get(reason)
            if existing is not None:
                return existing
        child = self._counter.labels(exchange=self._exchange, reason=reason)
        self._children[reason] = child
        return child


class SymbolMetrics:
    """Children bound once for one (exchange, symbol)."""

    __slots__ = (
        "_age",
        "_book_gaps",
        "_book_resyncs",
        "_book_synced",
        "_data_age_bound",
        "_fills_buy",
        "_fills_sell",
        "_open_orders",
        "_position",
        "_position_drift",
        "_quoting",
        "_sent_buy",
        "_sent_sell",
        "exchange",
        "symbol",
    )

    def __init__(self, metrics: Metrics, exchange: str, symbol: str) -> None:
        self.exchange = exchange
        self.symbol = symbol
        key = (exchange, symbol)
        # Before the first message the age counts from binding, so a feed that never delivers shows.
        self._age = _AgeCell(metrics.clock.monotonic_ns())
        metrics._market_data_age.cells[key] = self._age
        self._position = _FixedCell(0)
        metrics._position.cells[key] = self._position
        self._position_drift = metrics.position_drift_percent.labels(exchange, symbol)
        self._book_gaps = metrics.book_gaps.labels(exchange, symbol)
        self._book_resyncs = metrics.book_resyncs.labels(exchange, symbol)
        self._book_synced = metrics.book_synced.labels(exchange, symbol)
        self._open_orders = metrics.open_orders.labels(exchange, symbol)
        self._sent_buy = metrics.orders_sent.labels(exchange, symbol, "buy")
        self._sent_sell = metrics.orders_sent.labels(exchange, symbol, "sell")
        self._fills_buy = metrics.fills.labels(exchange, symbol, "buy")
        self._fills_sell = metrics.fills.labels(exchange, symbol, "sell")
        self._quoting = metrics.quoting.labels(exchange, symbol)
        self._data_age_bound = metrics.market_data_age_bound.labels(exchange, symbol)

    def market_data_received(self, monotonic_ns: int) -> None:
        """Hot path: remember when the last book or trade message arrived (ts_recv, monotonic)."""
        self._age.last_ns = monotonic_ns

    def set_position(self, units: int, scale: int) -> None:
        """Position in integer units of 10**-scale of the base asset (the instrument's size_scale)."""
        self._position.units = units
        self._position.scale = scale

    def set_position_drift(self, ours: int, venue: int) -> None:
        """Signed drift of our position from the venue's, in percent of the venue's (same units).

        A venue position of zero against a nonzero one of ours is infinite drift, which alerts.
        """
        if ours == venue:
            percent = 0.0
        elif venue == 0:
            percent = float("inf") if ours > venue else float("-inf")
        else:
            percent = (ours - venue) * 100 / abs(venue)
        self._position_drift.set(percent)

    def book_gap(self) -> None:
        self._book_gaps.inc()

    def book_resync(self) -> None:
        self._book_resyncs.inc()

    def set_book_synced(self, synced: bool) -> None:
        self._book_synced.set(1 if synced else 0)

    def set_open_orders(self, count: int) -> None:
        self._open_orders.set(count)

    def order_sent(self, side: Side) -> None:
        (self._sent_buy if side is Side.BUY else self._sent_sell).inc()

    def fill(self, side: Side) -> None:
        (self._fills_buy if side is Side.BUY else self._fills_sell).inc()

    def set_quoting(self, quoting: bool) -> None:
        """1 while the strategy has orders working on a synced book with trading enabled: the basis of
        "should be filling" in the TradingNoFills alert."""
        self._quoting.set(1 if quoting else 0)

    def set_market_data_age_bound(self, seconds: float) -> None:
        """The staleness bound of this symbol's book stream; TradingMarketDataStale compares the age to it."""
        self._data_age_bound.set(seconds)


class ExchangeMetrics:
    """Children bound once for one exchange. PnL is integer quote units of 10**-scale."""

    __slots__ = (
        "_fill_latency",
        "_malformed",
        "_orders_unknown",
        "_pnl_realized",
        "_pnl_unrealized",
        "_rate_limit_usage",
        "_received",
        "_reconnects",
        "_rejected",
        "exchange",
    )

    def __init__(self, metrics: Metrics, exchange: str) -> None:
        self.exchange = exchange
        key = (exchange,)
        self._received = _CountCell()
        metrics._messages_received.cells[key] = self._received
        self._pnl_realized = _FixedCell(0)
        metrics._pnl_realized.cells[key] = self._pnl_realized
        self._pnl_unrealized = _FixedCell(0)
        metrics._pnl_unrealized.cells[key] = self._pnl_unrealized
        self._fill_latency = metrics.fill_latency.labels(exchange)
        self._orders_unknown = metrics.orders_unknown.labels(exchange)
        self._rate_limit_usage = metrics.rate_limit_usage.labels(exchange)
        self._malformed = _ReasonCounter(metrics.messages_malformed, exchange)
        self._rejected = _ReasonCounter(metrics.orders_rejected, exchange)
        self._reconnects = _ReasonCounter(metrics.websocket_reconnects, exchange)

    def message_received(self, count: int = 1) -> None:
        """Hot path: one integer add; exported as a counter at scrape time."""
        self._received.value += count

    def message_malformed(self, reason: str) -> None:
        self._malformed.inc(reason)

    def order_rejected(self, reason: str) -> None:
        """`reason` is the risk rule that refused the order or the venue's error code."""
        self._rejected.inc(reason)

    def order_unknown(self) -> None:
        self._orders_unknown.inc()

    def websocket_reconnected(self, reason: str) -> None:
        self._reconnects.inc(reason)

    def observe_fill_latency_ns(self, nanoseconds: int) -> None:
        """Submission to fill confirmation, from the injected monotonic clock."""
        self._fill_latency.observe(nanoseconds / _NANOS)

    def set_rate_limit_usage(self, used: int, limit: int) -> None:
        self._rate_limit_usage.set(used / limit if limit > 0 else 0.0)

    def set_pnl(self, realized: int, unrealized: int, scale: int) -> None:
        self._pnl_realized.units = realized
        self._pnl_realized.scale = scale
        self._pnl_unrealized.units = unrealized
        self._pnl_unrealized.scale = scale


class StreamMetrics:
    """Children bound once for one WebSocket stream of one exchange."""

    __slots__ = ("_exchange", "_up", "stream")

    def __init__(self, metrics: Metrics, exchange: ExchangeMetrics, stream: str) -> None:
        self.stream = stream
        self._exchange = exchange
        self._up = metrics.websocket_up.labels(exchange.exchange, stream)

    def set_up(self, up: bool) -> None:
        self._up.set(1 if up else 0)

    def reconnected(self, reason: str) -> None:
        self._exchange.websocket_reconnected(reason)


class Metrics:
    """All tradestack metrics on one `CollectorRegistry`; build one per app instance."""

    def __init__(self, clock: Clock, registry: CollectorRegistry | None = None) -> None:
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.fill_latency = Histogram(
            "trading_fill_latency_seconds",
            "Order submission to fill confirmation.",
            ["exchange"],
            buckets=FILL_LATENCY_BUCKETS,
            registry=r,
        )
        self.tick_to_order = Histogram(
            "trading_tick_to_order_seconds",
            "Market data receipt to order handed to the gateway.",
            buckets=TICK_TO_ORDER_BUCKETS,
            registry=r,
        )
        self.position_drift_percent = Gauge(
            "trading_position_drift_percent",
            "Our position minus the venue's, in percent of the venue's.",
            ["exchange", "symbol"],
            registry=r,
        )
        self.websocket_up = Gauge(
            "trading_websocket_up", "1 while the stream is connected.", ["exchange", "stream"], registry=r
        )
        self.websocket_reconnects = Counter(
            "trading_websocket_reconnects_total", "WebSocket reconnects.", ["exchange", "reason"], registry=r
        )
        self.book_gaps = Counter(
            "trading_book_gaps_total", "Sequence gaps in book updates.", ["exchange", "symbol"], registry=r
        )
        self.book_resyncs = Counter(
            "trading_book_resyncs_total", "Book resyncs from a snapshot.", ["exchange", "symbol"], registry=r
        )
        self.book_synced = Gauge(
            "trading_book_synced", "1 while the book is in sync.", ["exchange", "symbol"], registry=r
        )
        self.messages_malformed = Counter(
            "trading_messages_malformed_total",
            "Venue messages that failed to parse.",
            ["exchange", "reason"],
            registry=r,
        )
        self.orders_sent = Counter(
            "trading_orders_sent_total",
            "Orders sent to the venue.",
            ["exchange", "symbol", "side"],
            registry=r,
        )
        self.orders_rejected = Counter(
            "trading_orders_rejected_total",
            "Orders refused by a risk rule or by the venue.",
            ["exchange", "reason"],
            registry=r,
        )
        self.fills = Counter(
            "trading_fills_total", "Fills received.", ["exchange", "symbol", "side"], registry=r
        )
        self.rate_limit_usage = Gauge(
            "trading_rate_limit_usage_ratio",
            "Used fraction of the venue rate limit.",
            ["exchange"],
            registry=r,
        )
        self.kill_switch_engaged = Gauge(
            "trading_kill_switch_engaged", "1 while the kill switch is engaged.", registry=r
        )
        self.risk_link_up = Gauge(
            "trading_risk_link_up",
            "1 while the firm risk service answers this shard (0: not trading, fail closed).",
            ["service"],
            registry=r,
        )
        self._api_key_labels: dict[str, list[str]] = {}
        self.api_key_info = Gauge(
            "trading_api_key_info",
            "1 for the API key in use (SHA-256 prefix, never the key): a rotation waits for every engine.",
            ["exchange", "fingerprint"],
            registry=r,
        )
        self.open_orders = Gauge(
            "trading_open_orders", "Orders open at the venue.", ["exchange", "symbol"], registry=r
        )
        self.orders_unknown = Counter(
            "trading_orders_unknown_total",
            "Orders in an unknown state at the venue.",
            ["exchange"],
            registry=r,
        )
        self.quoting = Gauge(
            "trading_quoting",
            "1 while the strategy has orders working on a synced book with trading enabled.",
            ["exchange", "symbol"],
            registry=r,
        )
        self.market_data_age_bound = Gauge(
            "trading_market_data_age_bound_seconds",
            "How old market data may get before the stream counts as stale.",
            ["exchange", "symbol"],
            registry=r,
        )
        self.component_state = Gauge(
            "trading_component_state",
            "1 for the current lifecycle state of each component.",
            ["component", "state"],
            registry=r,
        )
        self.event_loop_lag = Gauge(
            "trading_event_loop_lag_seconds",
            "How late the 1 s housekeeping sleep woke up: time the event loop was busy elsewhere.",
            registry=r,
        )
        self.asyncio_tasks = Gauge("trading_asyncio_tasks", "Asyncio tasks alive in the process.", registry=r)
        self.queue_depth = Gauge(
            "trading_queue_depth",
            "Items waiting in an internal queue (journal writer, audit writer, commands in flight, ...).",
            ["queue"],
            registry=r,
        )
        self._queue_depths: dict[str, Gauge] = {}
        self._market_data_age = _ScrapeTimeFamily(
            "trading_market_data_age_seconds",
            "Seconds since the last market data message.",
            "gauge",
            ("exchange", "symbol"),
        )
        self._messages_received = _ScrapeTimeFamily(
            "trading_messages_received_total", "Venue messages received.", "counter", ("exchange",)
        )
        self._position = _ScrapeTimeFamily(
            "trading_position", "Position in base units.", "gauge", ("exchange", "symbol")
        )
        self._pnl_realized = _ScrapeTimeFamily(
            "trading_pnl_realized", "Realized PnL in quote units.", "gauge", ("exchange",)
        )
        self._pnl_unrealized = _ScrapeTimeFamily(
            "trading_pnl_unrealized", "Unrealized PnL in quote units.", "gauge", ("exchange",)
        )
        r.register(
            _ScrapeTimeCollector(
                clock,
                (
                    self._market_data_age,
                    self._messages_received,
                    self._position,
                    self._pnl_realized,
                    self._pnl_unrealized,
                ),
            )
        )
        self._symbols: dict[tuple[str, str], SymbolMetrics] = {}
        self._exchanges: dict[str, ExchangeMetrics] = {}
        self._streams: dict[tuple[str, str], StreamMetrics] = {}
        self._tick_to_order_observe = self.tick_to_order.observe

    def for_symbol(self, exchange: str, symbol: str) -> SymbolMetrics:
        """Bind once, keep the result. Calling again returns the same object."""
        key = (exchange, symbol)
        bound = self._symbols.get(key)
        if bound is None:
            bound = self._symbols[key] = SymbolMetrics(self, exchange, symbol)
        return bound

    def for_exchange(self, exchange: str) -> ExchangeMetrics:
        bound = self._exchanges.get(exchange)
        if bound is None:
            bound = self._exchanges[exchange] = ExchangeMetrics(self, exchange)
        return bound

    def for_stream(self, exchange: str, stream: str) -> StreamMetrics:
        key = (exchange, stream)
        bound = self._streams.get(key)
        if bound is None:
            bound = self._streams[key] = StreamMetrics(self, self.for_exchange(exchange), stream)
        return bound

    def observe_tick_to_order_ns(self, nanoseconds: int) -> None:
        self._tick_to_order_observe(nanoseconds / _NANOS)

    def set_api_key(self, exchange: str, fingerprint: str) -> None:
        """Exactly one fingerprint per exchange is exported: the one signing now."""
        for labels in list(self._api_key_labels.get(exchange, ())):
            self.api_key_info.remove(exchange, labels)
        self.api_key_info.labels(exchange, fingerprint).set(1)
        self._api_key_labels[exchange] = [fingerprint]

    def set_kill_switch(self, engaged: bool) -> None:
        self.kill_switch_engaged.set(1 if engaged else 0)

    def set_risk_link_up(self, service: str, up: bool) -> None:
        self.risk_link_up.labels(service).set(1 if up else 0)

    def set_process_health(self, loop_lag_s: float, tasks: int, queues: Mapping[str, int]) -> None:
        """Sampled once a second by the runtime: event-loop lag, live asyncio tasks, queue depths."""
        self.event_loop_lag.set(loop_lag_s)
        self.asyncio_tasks.set(tasks)
        for queue, depth in queues.items():
            child = self._queue_depths.get(queue)
            if child is None:
                child = self._queue_depths[queue] = self.queue_depth.labels(queue)
            child.set(depth)

    def set_component_state(self, component: str, state: str) -> None:
        """One-hot: the current state is 1, the others 0, so `== 1` queries and alerts work."""
        if state not in COMPONENT_STATES:
            raise ValueError(f"unknown component state {state!r}; valid: {', '.join(COMPONENT_STATES)}")
        for candidate in COMPONENT_STATES:
            self.component_state.labels(component, candidate).set(1 if candidate == state else 0)
