"""The terminal view renders what the runtime reports."""

from __future__ import annotations

from rich.console import Console

from tradestack.app.view import SymbolRow, ViewModel, percentiles_ms, render


def test_the_view_shows_each_symbol_and_the_latency_percentiles() -> None:
    model = ViewModel(
        venue="binance",
        connection="running",
        uptime_s=12,
        rows=[SymbolRow("BTCUSDT", "60000.00", "60000.01", 42.0, "synced", "0.00100", "-0.01 USDT", 2, 7)],
        fill_latency_ms=percentiles_ms([1_000_000, 2_000_000, 3_000_000, 40_000_000]),
        orders_sent=9,
        kill_switch="",
    )
    console = Console(width=160, record=True)
    console.print(render(model))
    text = console.export_text()
    assert "BTCUSDT" in text and "60000.01" in text and "42 ms" in text and "synced" in text
    assert "p99 40.0 ms" in text and "kill switch: off" in text and "(running)" in text


def test_percentiles_of_nothing_are_empty() -> None:
    assert percentiles_ms([]) == {}
