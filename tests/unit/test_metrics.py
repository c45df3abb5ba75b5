"""Metrics: bound children, integer values exported exactly at scrape time, one registry per app."""

from __future__ import annotations

import math

import pytest

from tradestack.domain.events import Side
from tradestack.observability.metrics import MAX_REASONS_PER_EXCHANGE, Metrics
from tradestack.ports import ManualClock

pytestmark = pytest.mark.timeout(10)


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_two_apps_have_separate_registries() -> None:
    first, second = Metrics(ManualClock()), Metrics(ManualClock())

    first.for_exchange("binance").message_received()

    assert sample(first, "trading_messages_received_total", exchange="binance") == 1
    assert sample(second, "trading_messages_received_total", exchange="binance") is None


def test_binding_twice_returns_the_same_children() -> None:
    metrics = Metrics(ManualClock())

    assert metrics.for_symbol("binance", "BTCUSDT") is metrics.for_symbol("binance", "BTCUSDT")
    assert metrics.for_exchange("binance") is metrics.for_exchange("binance")
    assert metrics.for_stream("binance", "depth") is metrics.for_stream("binance", "depth")


def test_market_data_age_is_computed_at_scrape_time_from_the_injected_clock() -> None:
    clock = ManualClock()
    metrics = Metrics(clock)
    btc = metrics.for_symbol("binance", "BTCUSDT")

    clock.advance(2_000_000_000)  # nothing received yet: the age counts from binding
    assert sample(metrics, "trading_market_data_age_seconds", exchange="binance", symbol="BTCUSDT") == 2.0

    btc.market_data_received(clock.monotonic_ns())
    clock.advance(250_000_000)
    assert sample(metrics, "trading_market_data_age_seconds", exchange="binance", symbol="BTCUSDT") == 0.25


def test_positions_and_pnl_are_integers_until_export() -> None:
    metrics = Metrics(ManualClock())
    btc = metrics.for_symbol("binance", "BTCUSDT")
    binance = metrics.for_exchange("binance")

    btc.set_position(-123, scale=5)  # lots of 10**-5 BTC
    binance.set_pnl(realized=1_234_567, unrealized=-5, scale=7)

    assert sample(metrics, "trading_position", exchange="binance", symbol="BTCUSDT") == -0.00123
    assert sample(metrics, "trading_pnl_realized", exchange="binance") == 0.1234567
    assert sample(metrics, "trading_pnl_unrealized", exchange="binance") == -0.0000005


def test_position_drift_in_percent_of_the_venue_position() -> None:
    metrics = Metrics(ManualClock())
    btc = metrics.for_symbol("binance", "BTCUSDT")

    def drift() -> float | None:
        return sample(metrics, "trading_position_drift_percent", exchange="binance", symbol="BTCUSDT")

    btc.set_position_drift(ours=101, venue=100)
    assert drift() == 1.0
    btc.set_position_drift(ours=-99, venue=-100)
    assert drift() == 1.0
    btc.set_position_drift(ours=0, venue=0)
    assert drift() == 0.0
    btc.set_position_drift(ours=5, venue=0)
    assert drift() == math.inf


def test_counters_and_gauges_through_bound_children() -> None:
    clock = ManualClock()
    metrics = Metrics(clock)
    btc = metrics.for_symbol("binance", "BTCUSDT")
    binance = metrics.for_exchange("binance")
    depth = metrics.for_stream("binance", "depth")

    btc.order_sent(Side.BUY)
    btc.order_sent(Side.SELL)
    btc.order_sent(Side.SELL)
    btc.fill(Side.SELL)
    btc.book_gap()
    btc.book_resync()
    btc.set_book_synced(True)
    btc.set_open_orders(2)
    binance.message_received(3)
    binance.message_malformed("bad_json")
    binance.order_rejected("max_order_size")
    binance.order_rejected("-2010")
    binance.order_unknown()
    binance.set_rate_limit_usage(used=600, limit=1200)
    binance.observe_fill_latency_ns(30_000_000)
    depth.set_up(True)
    depth.reconnected("pong_timeout")
    metrics.observe_tick_to_order_ns(40_000)
    metrics.set_kill_switch(True)
    metrics.set_component_state("feed", "degraded")

    ex, sym = {"exchange": "binance"}, {"exchange": "binance", "symbol": "BTCUSDT"}
    assert sample(metrics, "trading_orders_sent_total", **sym, side="buy") == 1
    assert sample(metrics, "trading_orders_sent_total", **sym, side="sell") == 2
    assert sample(metrics, "trading_fills_total", **sym, side="sell") == 1
    assert sample(metrics, "trading_book_gaps_total", **sym) == 1
    assert sample(metrics, "trading_book_resyncs_total", **sym) == 1
    assert sample(metrics, "trading_book_synced", **sym) == 1
    assert sample(metrics, "trading_open_orders", **sym) == 2
    assert sample(metrics, "trading_messages_received_total", **ex) == 3
    assert sample(metrics, "trading_messages_malformed_total", **ex, reason="bad_json") == 1
    assert sample(metrics, "trading_orders_rejected_total", **ex, reason="max_order_size") == 1
    assert sample(metrics, "trading_orders_rejected_total", **ex, reason="-2010") == 1
    assert sample(metrics, "trading_orders_unknown_total", **ex) == 1
    assert sample(metrics, "trading_rate_limit_usage_ratio", **ex) == 0.5
    assert sample(metrics, "trading_fill_latency_seconds_bucket", **ex, le="0.05") == 1
    assert sample(metrics, "trading_fill_latency_seconds_bucket", **ex, le="0.01") == 0
    assert sample(metrics, "trading_websocket_up", **ex, stream="depth") == 1
    assert sample(metrics, "trading_websocket_reconnects_total", **ex, reason="pong_timeout") == 1
    assert sample(metrics, "trading_tick_to_order_seconds_bucket", le="5e-05") == 1
    assert sample(metrics, "trading_tick_to_order_seconds_bucket", le="2.5e-05") == 0
    assert sample(metrics, "trading_kill_switch_engaged") == 1
    assert sample(metrics, "trading_component_state", component="feed", state="degraded") == 1
    assert sample(metrics, "trading_component_state", component="feed", state="running") == 0


def test_unknown_component_state_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: starting, running, degraded, stopped"):
        Metrics(ManualClock()).set_component_state("feed", "sleepy")


def test_reason_labels_are_capped() -> None:
    metrics = Metrics(ManualClock())
    binance = metrics.for_exchange("binance")

    for index in range(MAX_REASONS_PER_EXCHANGE + 10):
        binance.message_malformed(f"reason-{index}")

    assert sample(metrics, "trading_messages_malformed_total", exchange="binance", reason="other") == 10
    assert sample(metrics, "trading_messages_malformed_total", exchange="binance", reason="reason-70") is None
