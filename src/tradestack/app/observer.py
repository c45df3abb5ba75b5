"""The engine's observer bound to metrics: label children bound once per symbol."""

from __future__ import annotations

import structlog

from tradestack.domain.events import Side
from tradestack.observability.metrics import Metrics
from tradestack.security.audit import AuditLog, KillSwitchAction

log = structlog.get_logger("tradestack.engine")


class MetricsObserver:
    def __init__(
        self, metrics: Metrics, exchange: str, symbols: list[str], audit: AuditLog | None = None
    ) -> None:
        self.metrics = metrics
        self.audit = audit
        self.exchange = metrics.for_exchange(exchange)
        self.symbols = {symbol: metrics.for_symbol(exchange, symbol) for symbol in symbols}
        self.fill_latencies_ns: list[int] = []

    def order_sent(self, symbol: str, side: str) -> None:
        self.symbols[symbol].order_sent(Side(side))

    def order_rejected(self, symbol: str, reason: str) -> None:
        self.exchange.order_rejected(reason)

    def order_unknown(self, symbol: str) -> None:
        self.exchange.order_unknown()

    def fill(self, symbol: str, side: str, latency_ns: int | None) -> None:
        self.symbols[symbol].fill(Side(side))
        if latency_ns is not None:
            self.exchange.observe_fill_latency_ns(latency_ns)
            self.fill_latencies_ns.append(latency_ns)
            del self.fill_latencies_ns[:-1000]

    def kill_switch(self, engaged: bool, reason: str) -> None:
        self.metrics.set_kill_switch(engaged)
        if self.audit is not None:
            self.audit.record(KillSwitchAction("engaged" if engaged else "released", reason, "risk"))
        if engaged:
            log.error("kill switch engaged: cancelling all orders", reason=reason)
