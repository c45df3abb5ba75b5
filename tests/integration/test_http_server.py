"""The HTTP server on a real socket (127.0.0.1, port 0): /metrics, /healthz, /readyz, extra routes."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import MappingProxyType

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tradestack.domain.events import Side
from tradestack.observability.http import READY, HttpServer, Readiness
from tradestack.observability.metrics import Metrics
from tradestack.ports import ManualClock

pytestmark = pytest.mark.timeout(20)

REQUIRED_METRICS = (
    "trading_fill_latency_seconds",
    "trading_position_drift_percent",
    "trading_market_data_age_seconds",
    "trading_websocket_up",
    "trading_websocket_reconnects_total",
    "trading_book_gaps_total",
    "trading_book_resyncs_total",
    "trading_book_synced",
    "trading_messages_received_total",
    "trading_messages_malformed_total",
    "trading_orders_sent_total",
    "trading_orders_rejected_total",
    "trading_fills_total",
    "trading_rate_limit_usage_ratio",
    "trading_kill_switch_engaged",
    "trading_position",
    "trading_pnl_realized",
    "trading_pnl_unrealized",
    "trading_open_orders",
    "trading_orders_unknown_total",
    "trading_component_state",
    "trading_tick_to_order_seconds",
)
TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Components:
    """A stand-in for the app's lifecycle states: what is not ready yet, and why."""

    not_ready: dict[str, str] = field(default_factory=lambda: {"book:BTCUSDT": "resyncing"})

    def readiness(self) -> Readiness:
        return Readiness(MappingProxyType(dict(self.not_ready)))


@dataclass
class App:
    clock: ManualClock
    metrics: Metrics
    components: Components
    server: HttpServer
    http: aiohttp.ClientSession

    async def get(self, path: str, accept: str | None = None) -> tuple[int, str, str]:
        headers = {"Accept": accept} if accept else {}
        async with self.http.get(f"{self.server.url}{path}", headers=headers) as response:
            return response.status, response.headers["Content-Type"], await response.text()


async def status_page(request: web.Request) -> web.Response:
    return web.Response(text="status")


@pytest.fixture
async def app() -> AsyncIterator[App]:
    clock = ManualClock()
    metrics = Metrics(clock)
    components = Components()
    server = HttpServer(metrics.registry, components.readiness, host="127.0.0.1", port=0)
    server.add_route("GET", "/status", status_page)  # the hook a later status page uses
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            yield App(clock, metrics, components, server, http)
    finally:
        await server.stop()


def exercise_every_metric(metrics: Metrics, clock: ManualClock) -> None:
    btc = metrics.for_symbol("binance", "BTCUSDT")
    binance = metrics.for_exchange("binance")
    depth = metrics.for_stream("binance", "depth")
    btc.market_data_received(clock.monotonic_ns())
    btc.set_position(100, scale=5)
    btc.set_position_drift(ours=100, venue=100)
    btc.book_gap()
    btc.book_resync()
    btc.set_book_synced(True)
    btc.set_open_orders(2)
    btc.order_sent(Side.BUY)
    btc.fill(Side.BUY)
    binance.message_received()
    binance.message_malformed("bad_json")
    binance.order_rejected("price_band")
    binance.order_unknown()
    binance.observe_fill_latency_ns(12_000_000)
    binance.set_rate_limit_usage(used=10, limit=1200)
    binance.set_pnl(realized=150, unrealized=-20, scale=2)
    depth.set_up(True)
    depth.reconnected("stale")
    metrics.observe_tick_to_order_ns(80_000)
    metrics.set_kill_switch(False)
    metrics.set_component_state("feed", "running")


async def test_metrics_has_every_required_metric_in_valid_prometheus_text(app: App) -> None:
    exercise_every_metric(app.metrics, app.clock)

    status, content_type, text = await app.get("/metrics")

    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    families = list(text_string_to_metric_families(text))
    exported = {family.name for family in families} | {
        sample.name for family in families for sample in family.samples
    }
    missing = [name for name in REQUIRED_METRICS if name not in exported]
    assert not missing, f"not exported: {missing}"
    assert "# TYPE trading_fill_latency_seconds histogram" in text
    assert 'trading_position{exchange="binance",symbol="BTCUSDT"} 0.001' in text
    assert 'trading_pnl_realized{exchange="binance"} 1.5' in text


async def test_metrics_speaks_openmetrics_when_asked(app: App) -> None:
    exercise_every_metric(app.metrics, app.clock)

    status, content_type, text = await app.get("/metrics", accept="application/openmetrics-text")

    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")


async def test_market_data_age_moves_with_the_injected_clock(app: App) -> None:
    btc = app.metrics.for_symbol("binance", "BTCUSDT")
    btc.market_data_received(app.clock.monotonic_ns())

    async def age() -> float:
        _, _, text = await app.get("/metrics")
        for family in text_string_to_metric_families(text):
            if family.name == "trading_market_data_age_seconds":
                return float(family.samples[0].value)
        raise AssertionError("trading_market_data_age_seconds not exported")

    assert await age() == 0.0
    app.clock.advance(3_500_000_000)
    assert await age() == 3.5
    btc.market_data_received(app.clock.monotonic_ns())
    assert await age() == 0.0


async def test_healthz_answers_while_the_process_lives(app: App) -> None:
    status, _, text = await app.get("/healthz")

    assert status == 200
    assert '"alive"' in text


async def test_readyz_is_503_naming_what_is_not_ready_then_200(app: App) -> None:
    async with app.http.get(f"{app.server.url}/readyz") as response:
        assert response.status == 503
        assert await response.json() == {"ready": False, "not_ready": {"book:BTCUSDT": "resyncing"}}

    app.components.not_ready.clear()

    async with app.http.get(f"{app.server.url}/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"ready": True, "not_ready": {}}


async def test_a_failing_readiness_check_is_not_ready_rather_than_an_error() -> None:
    def broken() -> Readiness:
        raise RuntimeError("journal closed")

    server = HttpServer(Metrics(ManualClock()).registry, broken, port=0)
    await server.start()
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.get(f"{server.url}/readyz") as response,
        ):
            assert response.status == 503
            body = await response.json()
    finally:
        await server.stop()

    assert body == {"ready": False, "not_ready": {"readiness_check": "RuntimeError: journal closed"}}


async def test_added_routes_are_served_and_cannot_be_added_after_start(app: App) -> None:
    status, _, text = await app.get("/status")

    assert (status, text) == (200, "status")
    with pytest.raises(RuntimeError, match="already started"):
        app.server.add_route("GET", "/late", status_page)


async def test_two_servers_with_their_own_registries_side_by_side() -> None:
    servers = [HttpServer(Metrics(ManualClock()).registry, lambda: READY, port=0) for _ in range(2)]
    for server in servers:
        await server.start()
    try:
        assert servers[0].port != servers[1].port
        assert all(server.port > 0 for server in servers)
    finally:
        for server in servers:
            await server.stop()

    with pytest.raises(RuntimeError, match="has not started"):
        _ = HttpServer(Metrics(ManualClock()).registry, lambda: READY, port=0).port


async def test_promtool_accepts_the_metrics(app: App) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool not installed (apt-get install prometheus provides it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    exercise_every_metric(app.metrics, app.clock)
    _, _, text = await app.get("/metrics")

    process = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(text.encode()), timeout=10)

    assert process.returncode == 0, (stdout + stderr).decode()
