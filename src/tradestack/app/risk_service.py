"""`tradestack risk`: the firm-wide risk service every trading shard reports to.

Two listeners, as in the Kubernetes manifest: /metrics, /healthz and /readyz on the http port (for
Prometheus and the probes; the shards' init containers wait on /readyz), and the risk API on its own
port (for the shards and for operators):

    POST /v1/report   a shard's holdings (app/risk_wire.py)  -> its verdict: allow, block or kill
    POST /v1/kill     {"reason": "..."}: an operator latches the firm kill switch
    GET  /v1/state    the firm's exposure, limits, latch and each shard's report age

The latch and the day's PnL baselines are committed (store/risk_state.py) before the answer that
depends on them leaves, so a crash of this service can neither forget a kill nor forgive a loss.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import structlog
from aiohttp import web

from tradestack.app.risk_wire import (
    KILL_PATH,
    REPORT_PATH,
    STATE_PATH,
    WireError,
    decode_report,
    encode_verdict,
)
from tradestack.config import Settings
from tradestack.domain.instruments import pow10
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.firm import FirmLimits, FirmRisk, Verdict
from tradestack.observability.firm_metrics import FirmRiskMetrics
from tradestack.observability.http import HttpServer, Readiness
from tradestack.ports import Clock
from tradestack.security.audit import AuditLog, KillSwitchAction
from tradestack.store.risk_state import FILE_NAME, RiskStateStore

log = structlog.get_logger("tradestack.risk")

MAX_SHARDS = 256  # a bound on state a misbehaving client could make us hold
MAX_BODY = 64 * 1024


def firm_limits(settings: Settings) -> FirmLimits:
    firm = settings.firm_risk

    def units(values: dict[str, Decimal], name: str) -> dict[str, int]:
        out = {}
        for asset, value in values.items():
            scaled = value * pow10(ASSET_SCALE)
            if scaled != scaled.to_integral_value():
                raise ValueError(f"firm_risk.{name}.{asset}: {value} has more than {ASSET_SCALE} decimals")
            out[asset] = int(scaled)
        return out

    return FirmLimits(
        units(dict(firm.max_net_position), "max_net_position"),
        units(dict(firm.max_gross_notional), "max_gross_notional"),
        units(dict(firm.daily_loss_limit), "daily_loss_limit"),
    )


def state_path(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


class RiskService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        audit: AuditLog | None = None,
        http_port: int | None = None,
        api_port: int | None = None,
        shards: frozenset[str] | None = None,
    ) -> None:
        self.settings = settings
        # the shard names the plan allows (shards.yaml); None accepts any name (paper, tests)
        self.allowed_shards = shards
        self.clock = clock
        self.audit = audit
        self.limits = firm_limits(settings)
        self.store = RiskStateStore(state_path(settings))
        saved = self.store.load()
        self.firm = FirmRisk(self.limits, saved.kill_reason, saved.day, saved.day_start)
        self.metrics = FirmRiskMetrics()
        self.metrics.kill_switch.set(1 if self.firm.killed else 0)
        self.http = HttpServer(
            self.metrics.registry,
            self.readiness,
            host=settings.http.host,
            port=settings.http.port if http_port is None else http_port,
        )
        self._api_host = settings.firm_risk.host
        self._api_port = settings.firm_risk.port if api_port is None else api_port
        self._api = web.Application(client_max_size=MAX_BODY)
        self._api.router.add_post(REPORT_PATH, self._report)
        self._api.router.add_post(KILL_PATH, self._kill)
        self._api.router.add_get(STATE_PATH, self._state)
        self._runner: web.AppRunner | None = None
        self.api_url = ""
        self._last_seen: dict[str, int] = {}  # shard -> monotonic ns of its last report
        self._malformed_from: set[str] = set()  # peers already logged (log once, count every one)
        self._ages: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.http.start()
        runner = web.AppRunner(self._api, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._api_host, self._api_port)
        await site.start()
        self._runner = runner
        port = int(runner.addresses[0][1])
        host = f"[{self._api_host}]" if ":" in self._api_host else self._api_host
        self.api_url = f"http://{host}:{port}"
        self._ages = asyncio.get_running_loop().create_task(self._export_ages())
        if self.firm.killed:
            log.error("firm kill switch is engaged (restored)", reason=self.firm.kill_reason)
            self._audit("restored", self.firm.kill_reason, "journal")
        log.info("firm risk service up", api=self.api_url, limits=asdict(self.limits))

    async def stop(self) -> None:
        if self._ages is not None:
            self._ages.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.http.stop()
        self.store.close()

    def readiness(self) -> Readiness:
        # ready as soon as the API answers: a latched kill must reach the shards, not keep them waiting
        return Readiness({} if self._runner is not None else {"risk_api": "not listening"})

    # -- the API ---------------------------------------------------------------------------------------
    async def _report(self, request: web.Request) -> web.Response:
        try:
            report = decode_report(json.loads(await request.read()))
        except (WireError, ValueError) as error:  # json.JSONDecodeError and UnicodeDecodeError too
            return self._malformed(request, str(error))
        if self.allowed_shards is not None and report.shard not in self.allowed_shards:
            # an unplanned name could offset a real shard's exposure in the sum: refuse it
            return self._malformed(request, f"unknown shard {report.shard!r}: not in the shard plan")
        if report.shard not in self._last_seen and len(self._last_seen) >= MAX_SHARDS:
            return self._malformed(request, f"more than {MAX_SHARDS} shards")
        self._last_seen[report.shard] = self.clock.monotonic_ns()
        was_killed = self.firm.killed
        verdict = self.firm.report(report, self.clock.now_ns())
        if self.firm.baselines_changed:
            self.store.save_day(self.firm.day, self.firm.day_start)
            self.firm.baselines_changed = False
        if self.firm.killed and not was_killed:
            self._latched(f"shard {report.shard} report")
        elif not verdict.allow and not verdict.kill:
            log.warning("shard blocked", shard=report.shard, reason=verdict.reason)
        self.metrics.set_exposure(self.firm.exposure(), self.limits)
        self.metrics.reports.labels(_verdict_name(verdict)).inc()
        return web.json_response(encode_verdict(verdict))

    async def _kill(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
            reason = body.get("reason", "") if isinstance(body, dict) else None
            if not isinstance(reason, str) or not reason.strip():
                raise WireError('give a reason: {"reason": "why"}')
        except (WireError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=400)
        if self.firm.trip(f"operator: {reason.strip()[:200]}"):
            self._latched(f"operator at {request.remote}")
        return web.json_response({"engaged": True, "reason": self.firm.kill_reason})

    async def _state(self, request: web.Request) -> web.Response:
        now = self.clock.monotonic_ns()
        exposure = self.firm.exposure()
        return web.json_response(
            {
                "kill_switch": {"engaged": self.firm.killed, "reason": self.firm.kill_reason},
                "scale": ASSET_SCALE,
                "exposure": asdict(exposure),
                "limits": {name: dict(values) for name, values in asdict(self.limits).items()},
                "shards": {
                    shard: {"age_seconds": (now - seen) / 1e9, "kill_switch": report.kill_switch}
                    for shard, report in self.firm.shards.items()
                    if (seen := self._last_seen.get(shard)) is not None
                },
            }
        )

    def _latched(self, actor: str) -> None:
        self.store.save_kill(self.firm.kill_reason)  # committed before any shard hears of it
        self.metrics.kill_switch.set(1)
        self._audit("engaged", self.firm.kill_reason, actor)
        log.error("FIRM KILL SWITCH ENGAGED: every shard cancels all", reason=self.firm.kill_reason)

    def _malformed(self, request: web.Request, why: str) -> web.Response:
        self.metrics.malformed.inc()
        peer = request.remote or "unknown"
        if peer not in self._malformed_from:
            self._malformed_from.add(peer)
            log.warning("malformed shard report dropped (further ones from this peer are counted)",
                        peer=peer, error=why)  # fmt: skip
        return web.json_response({"error": why}, status=400)

    def _audit(self, action: str, reason: str, actor: str) -> None:
        if self.audit is not None:
            self.audit.record(KillSwitchAction(action, reason, f"firm-risk: {actor}"))

    async def _export_ages(self) -> None:
        while True:
            now = self.clock.monotonic_ns()
            for shard, seen in self._last_seen.items():
                self.metrics.report_age.labels(shard).set((now - seen) / 1e9)
            await asyncio.sleep(1.0)


def _verdict_name(verdict: Verdict) -> str:
    return "kill" if verdict.kill else "allow" if verdict.allow else "block"


async def serve(
    settings: Settings, clock: Clock, audit: AuditLog | None, shards: frozenset[str] | None = None
) -> int:
    service = RiskService(settings, clock, audit, shards=shards)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await service.start()
        print(f"metrics on {service.http.url}/metrics", file=sys.stderr, flush=True)
        print(f"risk api on {service.api_url}", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await service.stop()
    return 0


def firm_kill_switch_state(settings: Settings) -> str:
    path = state_path(settings)
    if not path.exists():
        return ""
    store = RiskStateStore(path)
    try:
        return store.load().kill_reason
    finally:
        store.close()


def reset_firm_kill_switch(settings: Settings) -> str:
    """Offline, with the service stopped: it holds the latch in memory while it runs."""
    reason = firm_kill_switch_state(settings)
    if not reason:
        return "firm kill switch was not engaged"
    store = RiskStateStore(state_path(settings))
    try:
        store.save_kill("")
    finally:
        store.close()
    return f"firm kill switch reset (was: {reason}); it takes effect when the risk service starts"
