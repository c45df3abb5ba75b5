"""A small status page on the process's own HTTP server: `/status` (HTML that refreshes itself) and
`/status.json` (the same data).

It knows nothing about the app: it takes a callable returning a `StatusSnapshot` of plain values
(strings for money and sizes, already formatted exactly by the caller) and, optionally, the URL of an
Alertmanager whose firing alerts it shows. Install it with `install_status_page` before the server
starts (aiohttp freezes its router at start).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tradestack.observability.http import HttpServer

ALERTS_CACHE_SECONDS = 2.0
ALERTS_TIMEOUT_SECONDS = 1.5
REFRESH_MILLISECONDS = 2000


@dataclass(frozen=True, slots=True)
class VenueStatus:
    venue: str
    stream: str  # "market" (books, trades) or "user" (order reports, fills)
    state: str  # starting | running | degraded | stopped
    connected: bool


@dataclass(frozen=True, slots=True)
class BookStatus:
    venue: str
    symbol: str
    best_bid: str
    best_ask: str
    age_ms: float | None  # since the last book message; None before the first
    state: str  # the book's integrity state: synced, resyncing, ...


@dataclass(frozen=True, slots=True)
class PositionStatus:
    venue: str
    symbol: str
    position: str  # the strategy's inventory since the journal began
    balance: str  # the base asset balance as we account it
    venue_balance: str  # the same balance as the venue reports it
    drift_percent: float  # balance minus venue_balance, in percent of venue_balance (may be infinite)
    pnl: str


@dataclass(frozen=True, slots=True)
class OpenOrderStatus:
    venue: str
    symbol: str
    client_order_id: str
    side: str
    price: str
    size: str
    filled: str
    state: str


@dataclass(frozen=True, slots=True)
class FillStatus:
    venue: str
    symbol: str
    client_order_id: str
    trade_id: str
    side: str
    price: str
    size: str


@dataclass(frozen=True, slots=True)
class RiskStatus:
    kill_switch_engaged: bool
    kill_switch_reason: str
    trading_enabled: bool
    daily_pnl: str
    limits: Mapping[str, str] = field(default_factory=dict)  # limit name -> value as configured


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    process: str
    uptime_s: float
    venues: Sequence[VenueStatus]
    books: Sequence[BookStatus]
    positions: Sequence[PositionStatus]
    open_orders: Sequence[OpenOrderStatus]
    fills: Sequence[FillStatus]  # most recent first
    fill_latency_ms: Mapping[str, float]  # p50 / p95 / p99
    risk: RiskStatus


SnapshotSource = Callable[[], StatusSnapshot]


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite floats become strings ("inf", "-inf", "nan"), which JSON cannot carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class AlertmanagerAlerts:
    """Firing (active, not silenced, not inhibited) alerts from Alertmanager's v2 API, cached briefly."""

    def __init__(self, url: str | None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = url.rstrip("/") if url else None
        self._monotonic = monotonic
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> dict[str, Any]:
        if self.url is None:
            return {"configured": False, "alerts": []}
        async with self._lock:
            now = self._monotonic()
            if self._cached is None or now - self._cached_at >= ALERTS_CACHE_SECONDS:
                self._cached = await self._fetch(self.url)
                self._cached_at = now
            return self._cached

    async def _fetch(self, url: str) -> dict[str, Any]:
        query = {"active": "true", "silenced": "false", "inhibited": "false"}
        try:
            timeout = aiohttp.ClientTimeout(total=ALERTS_TIMEOUT_SECONDS)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{url}/api/v2/alerts", params=query) as response,
            ):
                response.raise_for_status()
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return {"configured": True, "url": url, "error": f"{type(error).__name__}: {error}", "alerts": []}
        alerts = []
        for alert in body if isinstance(body, list) else []:
            labels = alert.get("labels", {})
            annotations = alert.get("annotations", {})
            alerts.append(
                {
                    "alertname": labels.get("alertname", ""),
                    "severity": labels.get("severity", ""),
                    "labels": {k: v for k, v in labels.items() if k not in ("alertname", "severity")},
                    "summary": annotations.get("summary", ""),
                    "runbook_url": annotations.get("runbook_url", ""),
                    "starts_at": alert.get("startsAt", ""),
                }
            )
        alerts.sort(key=lambda a: (a["severity"] != "page", a["alertname"], sorted(a["labels"].items())))
        return {"configured": True, "url": url, "alerts": alerts}


class StatusPage:
    def __init__(self, snapshot: SnapshotSource, alerts: AlertmanagerAlerts) -> None:
        self._snapshot = snapshot
        self._alerts = alerts

    async def data(self) -> dict[str, Any]:
        try:
            status: dict[str, Any] = _plain(asdict(self._snapshot()))
        except Exception as error:  # the page must still say something when a component is half-built
            status = {"error": f"{type(error).__name__}: {error}"}
        status["alerts"] = await self._alerts.current()
        return status

    async def json_handler(self, request: web.Request) -> web.Response:
        return web.json_response(await self.data(), headers={"Cache-Control": "no-store"})

    async def html_handler(self, request: web.Request) -> web.Response:
        return web.Response(
            text=PAGE.replace("__REFRESH_MS__", str(REFRESH_MILLISECONDS)),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )


def install_status_page(
    http: HttpServer, snapshot: SnapshotSource, alertmanager_url: str | None = None
) -> StatusPage:
    """Add GET /status and GET /status.json to `http` (before it starts)."""
    page = StatusPage(snapshot, AlertmanagerAlerts(alertmanager_url))
    http.add_route("GET", "/status", page.html_handler)
    http.add_route("GET", "/status.json", page.json_handler)
    return page


# One static document; the script fetches status.json and renders it with textContent only (venue data
# and alert annotations are never interpreted as HTML).
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tradestack status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em; color: #1b1f24; background: #f6f8fa; }
 h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
 table { border-collapse: collapse; background: #fff; min-width: 30em; }
 th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: right; }
 th { background: #eaeef2; } td.l, th.l { text-align: left; }
 .ok { color: #1a7f37; font-weight: 600; } .bad { color: #cf222e; font-weight: 600; }
 .warn { color: #9a6700; font-weight: 600; } .muted { color: #57606a; }
 #banner { padding: .5em .8em; margin: .5em 0; border-radius: 4px; display: none; }
 #banner.bad { display: block; background: #ffebe9; border: 1px solid #cf222e; }
 .grid { display: flex; flex-wrap: wrap; gap: 0 2em; }
</style></head>
<body>
<h1>tradestack <span id="process" class="muted"></span></h1>
<div class="muted">up <span id="uptime">–</span> · updated <span id="updated">never</span>
 · refreshes every __REFRESH_MS__ ms</div>
<div id="banner"></div>
<div class="grid">
<section><h2>Venues</h2><table id="venues"></table></section>
<section><h2>Risk</h2><table id="risk"></table></section>
<section><h2>Fill latency</h2><table id="latency"></table></section>
</div>
<section><h2>Firing alerts</h2><div id="alerts-state" class="muted"></div>
<table id="alerts"></table></section>
<section><h2>Books</h2><table id="books"></table></section>
<section><h2>Positions and drift</h2><table id="positions"></table></section>
<section><h2>Open orders</h2><table id="orders"></table></section>
<section><h2>Recent fills</h2><table id="fills"></table></section>
<script>
"use strict";
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}
function table(id, headers, rows) {
  const t = document.getElementById(id);
  t.replaceChildren();
  const head = t.insertRow();
  for (const h of headers) {
    const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    if (h === headers[0]) th.className = "l";
  }
  if (rows.length === 0) {
    const r = t.insertRow(); cell(r, "none", "l muted"); r.cells[0].colSpan = headers.length; return;
  }
  for (const values of rows) {
    const r = t.insertRow();
    values.forEach((v, i) => Array.isArray(v) ? cell(r, v[0], v[1]) : cell(r, v, i === 0 ? "l" : ""));
  }
}
function drift(v) {
  const n = Number(v);
  return [typeof v === "number" ? n.toFixed(3) + " %" : v + " %", Math.abs(n) > 1 ? "bad" : "ok"];
}
function render(s) {
  const banner = document.getElementById("banner");
  if (s.error) { banner.className = "bad"; banner.textContent = "status unavailable: " + s.error; }
  else if (s.risk && s.risk.kill_switch_engaged) {
    banner.className = "bad";
    banner.textContent = "KILL SWITCH ENGAGED: " + s.risk.kill_switch_reason;
  } else { banner.className = ""; banner.textContent = ""; }
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  if (s.error) return;
  document.getElementById("process").textContent = s.process;
  document.getElementById("uptime").textContent = Math.round(s.uptime_s) + " s";
  table("venues", ["venue", "stream", "state"], s.venues.map(v =>
    [v.venue, v.stream, [v.state, v.connected ? "ok" : "bad"]]));
  table("books", ["symbol", "venue", "best bid", "best ask", "age", "integrity"], s.books.map(b =>
    [b.symbol, b.venue, b.best_bid, b.best_ask,
     b.age_ms === null ? "–" : b.age_ms.toFixed(0) + " ms",
     [b.state, b.state === "synced" ? "ok" : "warn"]]));
  table("positions", ["symbol", "venue", "position", "balance", "at venue", "drift", "PnL"],
    s.positions.map(p =>
      [p.symbol, p.venue, p.position, p.balance, p.venue_balance, drift(p.drift_percent), p.pnl]));
  table("orders", ["client order id", "symbol", "side", "price", "size", "filled", "state"],
    s.open_orders.map(o => [o.client_order_id, o.symbol, o.side, o.price, o.size, o.filled, o.state]));
  table("fills", ["client order id", "symbol", "trade id", "side", "price", "size"],
    s.fills.map(f => [f.client_order_id, f.symbol, f.trade_id, f.side, f.price, f.size]));
  const lat = s.fill_latency_ms;
  table("latency", ["percentile", "ms"], Object.keys(lat).map(k => [k, lat[k].toFixed(2)]));
  const r = s.risk;
  const riskRows = [
    ["kill switch", r.kill_switch_engaged ? ["ENGAGED: " + r.kill_switch_reason, "bad"] : ["off", "ok"]],
    ["trading", r.trading_enabled ? ["enabled", "ok"] : ["disabled", "warn"]],
    ["daily PnL", r.daily_pnl]];
  for (const k of Object.keys(r.limits)) riskRows.push([k, r.limits[k]]);
  table("risk", ["", ""], riskRows);
  const a = s.alerts;
  const state = document.getElementById("alerts-state");
  if (!a.configured) state.textContent = "Alertmanager: not configured";
  else if (a.error) state.textContent = "Alertmanager at " + a.url + " unreachable: " + a.error;
  else state.textContent = "Alertmanager at " + a.url + ": " + a.alerts.length + " firing";
  table("alerts", ["alert", "severity", "labels", "summary", "since"], a.alerts.map(x =>
    [x.alertname, [x.severity, x.severity === "page" ? "bad" : "warn"],
     Object.entries(x.labels).map(([k, v]) => k + "=" + v).join(" "), x.summary, x.starts_at]));
}
async function refresh() {
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    render(await response.json());
  } catch (error) {
    const banner = document.getElementById("banner");
    banner.className = "bad"; banner.textContent = "cannot reach the process: " + error;
  }
}
refresh();
setInterval(refresh, __REFRESH_MS__);
</script>
</body></html>
"""
