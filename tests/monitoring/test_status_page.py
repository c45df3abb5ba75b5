"""The status page: its data and alert sources in-process, then the real page in a real headless
Chromium during a `tradestack paper` run (with a screenshot kept as a test artifact)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitoring.support import REPO, Paper, http_get, missing, require, run
from tradestack.observability.http import READY, HttpServer
from tradestack.observability.metrics import Metrics
from tradestack.observability.status_page import (
    BookStatus,
    FillStatus,
    OpenOrderStatus,
    PositionStatus,
    RiskStatus,
    StatusSnapshot,
    VenueStatus,
    install_status_page,
)
from tradestack.ports import ManualClock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def snapshot() -> StatusSnapshot:
    return StatusSnapshot(
        process="binance BTCUSDT",
        uptime_s=12.5,
        venues=[VenueStatus("binance", "market", "degraded", False)],
        books=[BookStatus("binance", "BTCUSDT", "60000.01", "60000.02", 12.0, "synced")],
        positions=[
            PositionStatus("binance", "BTCUSDT", "0.001", "1.001 BTC", "0 BTC", float("inf"), "1 USDT")
        ],
        open_orders=[OpenOrderStatus("binance", "BTCUSDT", "ts1-1-1", "BUY", "59990", "0.001", "0", "new")],
        fills=[FillStatus("binance", "BTCUSDT", "ts1-1-0", 7, "SELL", "60001", "0.001")],
        fill_latency_ms={"p50": 1.5, "p95": 3.0, "p99": 4.0},
        risk=RiskStatus(True, "daily loss", False, "-501", {"daily loss limit": "500"}),
    )


async def serve(snap: Any, alertmanager_url: str | None) -> HttpServer:
    server = HttpServer(Metrics(ManualClock()).registry, lambda: READY, port=0)
    install_status_page(server, snap, alertmanager_url)
    await server.start()
    return server


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.json()


async def test_status_json_carries_the_snapshot_and_says_alertmanager_is_not_configured() -> None:
    server = await serve(snapshot, None)
    try:
        data = await get_json(server.url + "/status.json")
        html = await get_text(server.url + "/status")
    finally:
        await server.stop()
    assert data["positions"][0]["drift_percent"] == "inf"  # JSON has no infinity
    assert data["risk"]["kill_switch_engaged"] is True
    assert data["alerts"] == {"configured": False, "alerts": []}
    assert data["books"][0]["best_bid"] == "60000.01"
    assert "<title>tradestack status</title>" in html and "setInterval(refresh" in html


async def get_text(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_a_broken_snapshot_is_reported_not_a_500() -> None:
    def broken() -> StatusSnapshot:
        raise RuntimeError("engine not started")

    server = await serve(broken, None)
    try:
        data = await get_json(server.url + "/status.json")
    finally:
        await server.stop()
    assert data["error"] == "RuntimeError: engine not started"


@pytest.fixture
async def fake_alertmanager() -> AsyncIterator[str]:
    """Alertmanager's v2 alerts endpoint as it answers (the real one is used in the Prometheus e2e)."""

    async def alerts(request: web.Request) -> web.Response:
        assert request.query["active"] == "true" and request.query["inhibited"] == "false"
        return web.json_response(
            [
                {
                    "labels": {
                        "alertname": "TradingRateLimitHigh",
                        "severity": "chat",
                        "exchange": "binance",
                    },
                    "annotations": {"summary": "<b>85%</b>", "runbook_url": "docs/runbook.md#x"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "status": {"state": "active"},
                },
                {
                    "labels": {
                        "alertname": "TradingWebSocketDown",
                        "severity": "page",
                        "exchange": "binance",
                    },
                    "annotations": {"summary": "down"},
                    "startsAt": "2026-01-01T00:00:01Z",
                    "status": {"state": "active"},
                },
            ]
        )

    app = web.Application()
    app.router.add_get("/api/v2/alerts", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_firing_alerts_come_from_alertmanager_pages_first(fake_alertmanager: str) -> None:
    server = await serve(snapshot, fake_alertmanager + "/")
    try:
        data = await get_json(server.url + "/status.json")
    finally:
        await server.stop()
    alerts = data["alerts"]
    assert alerts["configured"] is True and "error" not in alerts
    assert [a["alertname"] for a in alerts["alerts"]] == ["TradingWebSocketDown", "TradingRateLimitHigh"]
    assert alerts["alerts"][1]["labels"] == {"exchange": "binance"}


async def test_an_unreachable_alertmanager_is_said_so() -> None:
    server = await serve(snapshot, "http://127.0.0.1:9")  # discard port: nothing listens
    try:
        data = await get_json(server.url + "/status.json")
    finally:
        await server.stop()
    assert data["alerts"]["configured"] is True and data["alerts"]["error"]


# -- the real page in a real browser, during a paper run ----------------------------------------------------


def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        missing(CHROMIUM + " (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the playwright Python package (PyPI playwright)")
    return CHROMIUM


def cells(page: Any, table: str) -> list[list[str]]:
    rows = page.locator(f"#{table} tr").all()
    return [[c.inner_text().strip() for c in row.locator("td").all()] for row in rows[1:]]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_status_page_in_chromium_during_a_paper_run(tmp_path: Path) -> None:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    paper = Paper(tmp_path, "--duration", "40")
    try:
        paper.wait_ready()
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            status = json.loads(http_get(paper.base_url + "/status.json"))
            if len(status["fills"]) >= 2 and status["fill_latency_ms"]:
                break
            time.sleep(0.3)
        assert len(status["fills"]) >= 2, "no fills during the run"
        # promtool's lint on the live /metrics of a trading process
        assert (
            run(require("promtool"), "check", "metrics", stdin=http_get(paper.base_url + "/metrics").decode())
            == ""
        )

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_FLAGS, headless=True
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                page.goto(paper.base_url + "/status", timeout=15_000)
                page.wait_for_function("document.querySelectorAll('#books td').length >= 12", timeout=10_000)
                venues = cells(page, "venues")
                assert ["binance", "market", "running"] in venues and ["binance", "user", "running"] in venues
                books = {row[0]: row for row in cells(page, "books")}
                assert set(books) == {"BTCUSDT", "ETHUSDT"}
                for row in books.values():
                    bid, ask = float(row[2]), float(row[3])
                    assert 0 < bid < ask, row
                    assert re.fullmatch(r"\d+ ms", row[4]) and row[5] == "synced", row
                positions = {row[0]: row for row in cells(page, "positions")}
                assert set(positions) == {"BTCUSDT", "ETHUSDT"}
                assert all(row[5].endswith("%") for row in positions.values())
                orders = cells(page, "orders")
                assert orders and all(row[0].startswith("ts1-") for row in orders), orders
                fills = cells(page, "fills")
                assert len(fills) >= 2 and all(row[0].startswith("ts1-") for row in fills), fills
                latency = {row[0]: float(row[1]) for row in cells(page, "latency")}
                assert set(latency) == {"p50", "p95", "p99"} and 0 < latency["p50"] <= latency["p99"]
                risk = {row[0]: row[1] for row in cells(page, "risk")}
                assert risk["kill switch"] == "off" and risk["trading"] == "enabled"
                assert risk["daily loss limit"] == "500"
                assert page.inner_text("#alerts-state") == "Alertmanager: not configured"
                assert page.inner_text("#banner") == ""
                # it refreshes itself: the uptime moves without a reload
                first = page.inner_text("#uptime")
                page.wait_for_function(
                    f"document.getElementById('uptime').textContent !== {json.dumps(first)}", timeout=10_000
                )
                shot = tmp_path / "status-page.png"
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
        assert shot.stat().st_size > 10_000
        reports = REPO / "reports"
        reports.mkdir(exist_ok=True)
        shutil.copyfile(shot, reports / "status-page.png")
    finally:
        paper.stop()
    assert paper.process.returncode == 0, paper.log_path.read_text()[-3000:]
