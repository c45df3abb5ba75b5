"""The live terminal view and the closing summary (rich). Reads a plain view model; changes nothing."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table


@dataclass(frozen=True, slots=True)
class SymbolRow:
    symbol: str
    bid: str
    ask: str
    data_age_ms: float | None
    book_state: str
    position: str
    pnl: str
    open_orders: int
    fills: int


@dataclass(frozen=True, slots=True)
class ViewModel:
    venue: str
    connection: str
    uptime_s: float
    rows: list[SymbolRow]
    fill_latency_ms: dict[str, float] = field(default_factory=dict)
    orders_sent: int = 0
    orders_rejected: int = 0
    kill_switch: str = ""


def percentiles_ms(samples_ns: Collection[int]) -> dict[str, float]:
    if not samples_ns:
        return {}
    ordered = sorted(samples_ns)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


def render(model: ViewModel, title: str = "tradestack paper") -> Group:
    table = Table(
        title=f"{title} — {model.venue} ({model.connection}) up {model.uptime_s:.0f}s", expand=False
    )
    for column in ("symbol", "bid", "ask", "data age", "book", "position", "PnL", "open", "fills"):
        table.add_column(column, justify="right" if column not in ("symbol", "book") else "left")
    for row in model.rows:
        age = "—" if row.data_age_ms is None else f"{row.data_age_ms:.0f} ms"
        table.add_row(
            row.symbol,
            row.bid,
            row.ask,
            age,
            row.book_state,
            row.position,
            row.pnl,
            str(row.open_orders),
            str(row.fills),
        )
    latency = ", ".join(f"{k} {v:.1f} ms" for k, v in model.fill_latency_ms.items()) or "no fills yet"
    footer = Table.grid(padding=(0, 2))
    footer.add_row(
        f"fill latency: {latency}",
        f"orders sent {model.orders_sent}, rejected {model.orders_rejected}",
        f"kill switch: {model.kill_switch or 'off'}",
    )
    return Group(table, footer)
