"""One trading process wired together: connector, engine, risk, journal, metrics. Same code for paper
and live; only the endpoints and where the credentials come from differ (see app/paper.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from tradestack.app.journal_state import open_for_account, restore, set_baseline, trade_floor_key
from tradestack.app.observer import MetricsObserver
from tradestack.app.reconcile import ReconcileReport, drift_by_symbol, reconcile, recover_fills
from tradestack.app.trader import Trader
from tradestack.app.view import SymbolRow, ViewModel, percentiles_ms
from tradestack.config import Settings
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import TradePrint
from tradestack.domain.instruments import Instrument, format_fixed, pow10
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.commands import Cancel, CancelAll, Command, Submit
from tradestack.engine.core import Engine
from tradestack.observability.http import HttpServer, Readiness
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
from tradestack.ports import Clock
from tradestack.security.audit import (
    AuditLog,
    KillSwitchAction,
    OrderCanceled,
    OrderSubmitted,
    SecretAccessed,
)
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey, enforce_key_policy
from tradestack.security.secrets import Secret
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues._shared.ws_session import SessionState, WsSession
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedObserver, FeedSettings
from tradestack.venues.binance.key_permissions import BinanceKeyPermissions
from tradestack.venues.binance.rest_gateway import (
    BinanceRestGateway,
    RequestTiming,
    limits_from_exchange_info,
)
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance.user_stream import BinanceUserStream

log = structlog.get_logger("tradestack.runtime")

EXCHANGE = "binance"
CLIENT_ID_PREFIX = "ts1"


class StartupError(RuntimeError):
    """The process cannot start trading; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest_url: str
    ws_url: str


def _units(value: Decimal, scale: int) -> int:
    scaled = value * pow10(scale)
    if scaled != scaled.to_integral_value():
        raise StartupError(f"{value} has more than {scale} decimals for this instrument")
    return int(scaled)


def risk_limits(settings: Settings, instruments: Mapping[str, Instrument]) -> RiskLimits:
    risk = settings.risk
    return RiskLimits(
        per_symbol={
            symbol: SymbolLimits(
                max_order_size=_units(risk.max_order_size[symbol], inst.size_scale),
                max_position=_units(risk.max_position[symbol], inst.size_scale),
            )
            for symbol, inst in instruments.items()
        },
        max_order_notional=_units(risk.max_order_notional, ASSET_SCALE),
        price_band_bps=int(risk.price_band_bps),
        max_orders_per_second=risk.max_orders_per_second,
        daily_loss_limit=_units(risk.daily_loss_limit, ASSET_SCALE),
    )


def market_maker_params(settings: Settings, instruments: Mapping[str, Instrument]) -> MarketMakerParams:
    strategy = settings.strategy
    return MarketMakerParams(
        half_spread_bps_e2=int(strategy.half_spread_bps * 100),
        skew_bps_e2_at_max_inventory=int(strategy.skew_bps_at_max_inventory * 100),
        requote_threshold_bps_e2=int(strategy.requote_threshold_bps * 100),
        order_size={s: _units(strategy.order_size[s], inst.size_scale) for s, inst in instruments.items()},
        max_inventory={
            s: _units(strategy.max_inventory[s], inst.size_scale) for s, inst in instruments.items()
        },
    )


def _credential_digest(api_key: Secret, api_secret: Secret) -> bytes:
    return hashlib.sha256(api_key.reveal().encode() + b"\0" + api_secret.reveal().encode()).digest()


class FeedMetrics(FeedObserver):
    def __init__(self, metrics: Metrics, symbols: list[str]) -> None:
        self.exchange = metrics.for_exchange(EXCHANGE)
        self.symbols = {symbol: metrics.for_symbol(EXCHANGE, symbol) for symbol in symbols}

    def market_data(self, symbol: str, ts_recv: int) -> None:
        self.symbols[symbol].market_data_received(ts_recv)

    def gap(self, symbol: str) -> None:
        self.symbols[symbol].book_gap()

    def resync(self, symbol: str) -> None:
        self.symbols[symbol].book_resync()

    def synced(self, symbol: str, synced: bool) -> None:
        self.symbols[symbol].set_book_synced(synced)

    def malformed(self, reason: str) -> None:
        self.exchange.message_malformed(reason)

    def frames(self, count: int) -> None:
        self.exchange.message_received(count)


class TradingRuntime:
    def __init__(
        self,
        settings: Settings,
        endpoints: Endpoints,
        api_key: Secret,
        api_secret: Secret,
        clock: Clock,
        http_port: int | None = None,
        audit: AuditLog | None = None,
        credentials: Callable[[bool], tuple[Secret, Secret]] | None = None,
    ) -> None:
        self.settings = settings
        self.audit = audit
        self._credentials = credentials  # re-read to pick up a rotated key
        self.endpoints = endpoints
        self.clock = clock
        self.data_dir = Path(settings.data_dir)
        self.metrics = Metrics(clock)
        self.http = HttpServer(
            self.metrics.registry,
            self.readiness,
            host=settings.http.host,
            port=settings.http.port if http_port is None else http_port,
        )
        self._signer = HmacSigner(api_key.reveal(), api_secret.reveal())
        self._credentials_in_use = _credential_digest(api_key, api_secret)
        self.gateway = BinanceRestGateway(
            self._signer,
            clock=clock,
            base_url=endpoints.rest_url,
            on_timing=self._on_timing,
        )
        self.reconciled = False
        self.draining = False
        self.reconcile_report: ReconcileReport | None = None
        self.venue_balances: dict[str, int] = {}
        self.started_mono = clock.monotonic_ns()
        self.tick_to_order_ns: list[int] = []
        self._tick_start: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._journal: SqliteJournal | None = None
        self._feed: BinanceMarketFeed | None = None
        self._user: BinanceUserStream | None = None
        self._engine: Engine | None = None
        self._trader: Trader | None = None

    # -- typed accessors for what exists only after start() -----------------------------------------
    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "start() first"
        return self._engine

    @property
    def trader(self) -> Trader:
        assert self._trader is not None, "start() first"
        return self._trader

    @property
    def feed(self) -> BinanceMarketFeed:
        assert self._feed is not None, "start() first"
        return self._feed

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.metrics.set_component_state("engine", "starting")
        self._install_monitoring()
        await self.http.start()
        await self.gateway.start()
        await self.gateway.sync_time()
        await self._check_key()
        self.metrics.set_api_key(EXCHANGE, self.gateway.api_key_fingerprint)
        info = await self.gateway.exchange_info(list(self.settings.symbols))
        self.gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
        instruments = {
            s.symbol: s.instrument(EXCHANGE) for s in info.symbols if s.symbol in self.settings.symbols
        }
        missing = sorted(set(self.settings.symbols) - set(instruments))
        if missing:
            raise StartupError(f"the venue does not list {', '.join(missing)}: fix `symbols` in the config")
        venue = BinanceTrading(self.gateway, instruments)
        account = await venue.account_id()
        journal, fresh = open_for_account(self.data_dir, f"{EXCHANGE}:{account}")
        self._journal = journal
        ids = ClientOrderIds(CLIENT_ID_PREFIX)
        ids.add_block(journal.reserve_block())
        engine = Engine(
            instruments,
            MarketMaker(market_maker_params(self.settings, instruments)),
            RiskEngine(risk_limits(self.settings, instruments), instruments, KillSwitch()),
            OrderManager(ids),
            journal,
            self.clock,
            MetricsObserver(self.metrics, EXCHANGE, list(instruments), self.audit),
        )
        self._engine = engine
        restore(engine, journal)
        if engine.risk.kill_switch.engaged and self.audit is not None:
            self.audit.record(KillSwitchAction("restored", engine.risk.kill_switch.reason, "journal"))
        self.metrics.set_kill_switch(engine.risk.kill_switch.engaged)
        self._trader = Trader(
            engine,
            venue,
            self.clock,
            on_command=self._audit_command,
            on_auth_failure=self.refresh_credentials,
        )
        self._venue = venue
        feed_settings = self.settings.feed
        self._feed = BinanceMarketFeed(
            self.endpoints.ws_url,
            instruments,
            self.gateway,
            self.clock,
            self._on_book,
            self._on_trade,
            FeedSettings(
                staleness_s=feed_settings.staleness_seconds,
                ping_idle_s=feed_settings.ping_interval_seconds,
                pong_timeout_s=feed_settings.pong_timeout_seconds,
                backoff_initial_s=feed_settings.backoff_initial_seconds,
                backoff_max_s=feed_settings.backoff_max_seconds,
                snapshot_limit=feed_settings.snapshot_limit,
            ),
            observer=FeedMetrics(self.metrics, list(instruments)),
        )
        self._user = BinanceUserStream(
            self.endpoints.ws_url,
            self.gateway,
            instruments,
            self.clock,
            self._on_report,
            self._on_balances,
            self._on_user_reconnected,
            on_malformed=self.metrics.for_exchange(EXCHANGE).message_malformed,
        )
        await self._user.start()  # before reconciling, so nothing that happens after it is missed
        floors = await self._trade_floors(venue, fresh)
        if fresh:  # a new journal starts from the venue's balances; fills after this move them
            baseline = await venue.balances()
            set_baseline(journal, baseline)
            for asset, amount in baseline.items():
                engine.ledger.set_balance(asset, amount)
        self.reconcile_report = await reconcile(engine, venue, self.clock, floors)
        self.venue_balances = self.reconcile_report.venue_balances
        for order in self.reconcile_report.in_flight:
            self._spawn(self.trader.resolve(order))
        self._update_drift()
        self.reconciled = True
        engine.trading_enabled = True
        await self._feed.start()
        self._spawn(self._housekeeping())
        self.metrics.set_component_state("engine", "running")
        log.info("trading", symbols=list(instruments), kill_switch=engine.risk.kill_switch.engaged)

    async def stop(self, cancel_open_orders: bool = True) -> None:
        self.metrics.set_component_state("engine", "stopped")
        if self._engine is not None:
            self._engine.trading_enabled = False
            if cancel_open_orders and self._trader is not None:
                self._trader.execute(CancelAll(symbol, "shutdown") for symbol in self._engine.instruments)
                await self._trader.drain()
        for task in list(self._tasks):
            task.cancel()
        if self._feed is not None:
            await self._feed.stop()
        if self._user is not None:
            await self._user.stop()
        await self.gateway.close()
        await self.http.stop()
        if self._journal is not None:
            self._journal.close()

    def refresh_credentials(self, force: bool = False) -> bool:
        """Re-read the key from the secret store; sign with it from the next request if it changed.

        Called every second and at once on an authentication failure, so a rotation that keeps the old
        key valid until every engine reports the new fingerprint loses no order.
        """
        if self._credentials is None:
            return False
        try:
            api_key, api_secret = self._credentials(force)
        except Exception as error:  # a store that cannot be read now keeps the current key
            log.warning("secret store unreadable; keeping the current key", error=type(error).__name__)
            return False
        digest = _credential_digest(api_key, api_secret)
        if digest == self._credentials_in_use:
            return False
        self._credentials_in_use = digest
        self._signer = HmacSigner(api_key.reveal(), api_secret.reveal())
        self.gateway.set_signer(self._signer)
        fingerprint = self.gateway.api_key_fingerprint
        self.metrics.set_api_key(EXCHANGE, fingerprint)
        if self.audit is not None:
            self.audit.record(SecretAccessed("binance/api_key", "file", "rotation", fingerprint))
        log.warning("API key rotated in the secret store: signing with the new key", fingerprint=fingerprint)
        return True

    async def _check_key(self) -> None:
        """Refuse a key that can withdraw, or lacks an IP whitelist when the config requires one."""
        source = BinanceKeyPermissions(self._signer, self.endpoints.rest_url, self.gateway.venue_time_ns)
        policy = KeyPolicy(require_ip_whitelist=self.settings.security.require_ip_whitelist)
        try:
            await enforce_key_policy(source, policy, EXCHANGE)
        except UnsafeApiKey as error:
            raise StartupError(str(error)) from None

    def _audit_command(self, command: Command) -> None:
        audit = self.audit
        if audit is None:
            return
        if isinstance(command, Submit):
            order = command.order
            inst = self.engine.instruments[order.symbol]
            audit.record(
                OrderSubmitted(
                    order.client_id,
                    order.symbol,
                    order.side.value,
                    inst.price_text(order.price),
                    inst.size_text(order.size),
                    EXCHANGE,
                )
            )
        elif isinstance(command, Cancel):
            audit.record(OrderCanceled(command.order.client_id, command.order.symbol, "strategy", EXCHANGE))
        else:
            audit.record(OrderCanceled("*", command.symbol, command.reason, EXCHANGE))

    # -- readiness --------------------------------------------------------------------------------------
    async def _drain(self, request: web.Request) -> web.Response:
        """POST /drain (a pod's preStop): stop trading, cancel every open order, report what is left."""
        self.draining = True
        if self._engine is None or self._trader is None:
            return web.json_response({"drained": True, "open_orders": 0})
        self._engine.trading_enabled = False
        self._trader.execute(CancelAll(symbol, "drain") for symbol in self._engine.instruments)
        await self._trader.drain()
        left = len(self._engine.orders.all_live())
        log.warning("drained: trading stopped, open orders cancelled", open_orders=left)
        return web.json_response({"drained": left == 0, "open_orders": left})

    def readiness(self) -> Readiness:
        not_ready: dict[str, str] = {}
        if self.draining:
            not_ready["engine"] = "drained"
        if not self.reconciled:
            not_ready["reconciliation"] = "not finished"
        if self._feed is None:
            not_ready["market_data"] = "not started"
        else:
            for symbol, sync in self._feed.syncs.items():
                if sync.state.value != "synced":
                    not_ready[f"book:{symbol}"] = sync.state.value
        return Readiness(not_ready)

    # -- events -------------------------------------------------------------------------------------------
    def _on_book(self, symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        commands = self.engine.on_book(symbol, book, synced)
        if commands:
            for command in commands:
                if isinstance(command, Submit):
                    self._tick_start[command.order.client_id] = ts_recv
            self.trader.execute(commands)

    def _on_trade(self, trade: TradePrint) -> None:
        commands = self.engine.on_trade(trade)
        if commands:
            self.trader.execute(commands)

    def _on_report(self, report: OrderReport, ts_recv: int) -> None:
        self.trader.apply(report)

    def _on_balances(self, balances: Balances) -> None:
        self.venue_balances.update(balances.totals)
        self._update_drift()

    def _on_user_reconnected(self) -> None:
        self._spawn(self._recover_after_outage())

    async def _recover_after_outage(self) -> None:
        found = await recover_fills(self.engine, self._venue)
        if found:
            log.warning("fills recovered after a user-stream outage", count=found)

    def _on_timing(self, timing: RequestTiming) -> None:
        if timing.client_order_id is None or timing.sent_ns is None or timing.method != "POST":
            return
        start = self._tick_start.pop(timing.client_order_id, None)
        if start:
            elapsed = timing.sent_ns - start
            self.metrics.observe_tick_to_order_ns(elapsed)
            self.tick_to_order_ns.append(elapsed)
            del self.tick_to_order_ns[:-10_000]

    # -- periodic -------------------------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        exchange = self.metrics.for_exchange(EXCHANGE)
        while True:
            self.refresh_credentials()
            engine = self.engine
            for symbol, position in engine.positions.items():
                metrics = self.metrics.for_symbol(EXCHANGE, symbol)
                metrics.set_position(position.size, position.instrument.size_scale)
                metrics.set_open_orders(len(engine.live_orders(symbol)))
            realized = sum(
                p.realized * pow10(ASSET_SCALE - p.instrument.notional_scale)
                for p in engine.positions.values()
            )
            exchange.set_pnl(realized, engine.total_pnl() - realized, ASSET_SCALE)
            ratio = self.gateway.limiter.usage_ratio(self.gateway.venue_time_ns())
            exchange.set_rate_limit_usage(int(ratio * 1_000_000), 1_000_000)
            self._tick_start = {k: v for k, v in self._tick_start.items() if k in engine.orders.orders}
            await asyncio.sleep(1.0)

    def _update_drift(self) -> None:
        engine = self.engine
        for symbol, inst in engine.instruments.items():
            self.metrics.for_symbol(EXCHANGE, symbol).set_position_drift(
                engine.ledger.balances.get(inst.base, 0), self.venue_balances.get(inst.base, 0)
            )

    async def _trade_floors(self, venue: BinanceTrading, fresh: bool) -> dict[str, int]:
        """On a fresh journal, trades already at the venue are in its balances: start after them."""
        assert self._journal is not None
        meta = self._journal.load().meta
        floors: dict[str, int] = {}
        for symbol in self.engine.instruments:
            key = trade_floor_key(symbol)
            if fresh:
                trades = await venue.fills(symbol, None)
                floor = max((fill.trade_id for fill, _ in trades), default=-1)
                self._journal.put_meta_sync(key, str(floor))
                floors[symbol] = floor
            elif key in meta:
                floors[symbol] = int(meta[key])
        return floors

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what people see -------------------------------------------------------------------------------------
    def drift(self) -> dict[str, float]:
        return drift_by_symbol(self.engine, self.venue_balances)

    def _book_status(self, feed: BinanceMarketFeed, symbol: str, now_mono_ns: int) -> BookStatus:
        """Best bid/ask, data age and integrity state of one book: the view and /status show the same."""
        inst = feed.instruments[symbol]
        sync = feed.syncs[symbol]
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        age = feed.data_age_ns(symbol, now_mono_ns)
        return BookStatus(
            EXCHANGE,
            symbol,
            inst.price_text(bid[0]) if bid else "—",
            inst.price_text(ask[0]) if ask else "—",
            None if age is None else age / 1e6,
            sync.state.value,
        )

    def view_model(self) -> ViewModel:
        engine = self.engine
        rows = []
        now = self.clock.monotonic_ns()
        for symbol, inst in engine.instruments.items():
            book = self._book_status(self.feed, symbol, now)
            position = engine.positions[symbol]
            pnl = position.realized + engine.unrealized(symbol)
            rows.append(
                SymbolRow(
                    symbol=symbol,
                    bid=book.best_bid,
                    ask=book.best_ask,
                    data_age_ms=book.age_ms,
                    book_state=book.state,
                    position=inst.size_text(position.size),
                    pnl=format_fixed(pnl, inst.notional_scale)[: -inst.size_scale or None] + " " + inst.quote,
                    open_orders=len(engine.live_orders(symbol)),
                    fills=sum(1 for fill in engine.recent_fills if fill.symbol == symbol),
                )
            )
        observer = engine.observer
        latencies = observer.fill_latencies_ns if isinstance(observer, MetricsObserver) else []
        sent = sum(1 for order in engine.orders.orders.values() if order.sent_mono_ns)
        rejected = sum(1 for order in engine.orders.orders.values() if order.status is OrderStatus.REJECTED)
        return ViewModel(
            venue=EXCHANGE,
            connection=str(self.feed.session.state),
            uptime_s=(now - self.started_mono) / 1e9,
            rows=rows,
            fill_latency_ms=percentiles_ms(latencies),
            orders_sent=sent,
            orders_rejected=rejected,
            kill_switch=engine.risk.kill_switch.reason if engine.risk.kill_switch.engaged else "",
        )

    # -- monitoring (deploy/monitoring): status page; connection, quoting and staleness-bound gauges ---------
    def _install_monitoring(self) -> None:
        self.http.add_route("POST", "/drain", self._drain)
        install_status_page(
            self.http, self.status_snapshot, alertmanager_url=self.settings.monitoring.alertmanager_url
        )
        bound = self.settings.feed.staleness_seconds
        for symbol in self.settings.symbols:
            self.metrics.for_symbol(EXCHANGE, symbol).set_market_data_age_bound(bound)
        self._spawn(self._monitor_connections())

    def _sessions(self) -> dict[str, WsSession | None]:
        return {
            "market": self._feed.session if self._feed is not None else None,
            "user": self._user.session if self._user is not None else None,
        }

    async def _monitor_connections(self) -> None:
        """Every second: trading_websocket_up and _reconnects_total per stream, trading_quoting per symbol."""
        streams = {name: self.metrics.for_stream(EXCHANGE, name) for name in ("market", "user")}
        seen: dict[str, dict[str, int]] = {name: {} for name in streams}
        for bound in streams.values():
            bound.set_up(False)
        while True:
            for name, session in self._sessions().items():
                if session is None:
                    continue
                streams[name].set_up(session.state is SessionState.RUNNING)
                for reason, count in session.counters().reconnects.items():
                    for _ in range(count - seen[name].get(reason, 0)):
                        streams[name].reconnected(reason)
                    seen[name][reason] = count
            engine = self._engine
            if engine is not None:
                for symbol in engine.instruments:
                    quoting = (
                        engine.trading_enabled
                        and engine.synced.get(symbol, False)
                        and not engine.risk.kill_switch.engaged
                        and bool(engine.live_orders(symbol))
                    )
                    self.metrics.for_symbol(EXCHANGE, symbol).set_quoting(quoting)
            await asyncio.sleep(1.0)

    def status_snapshot(self) -> StatusSnapshot:
        """Plain values for the status page (observability/status_page.py); valid before start() ends."""
        now = self.clock.monotonic_ns()
        venues = [
            VenueStatus(EXCHANGE, name, str(session.state), session.state is SessionState.RUNNING)
            for name, session in self._sessions().items()
            if session is not None
        ]
        engine, feed = self._engine, self._feed
        books: list[BookStatus] = []
        positions: list[PositionStatus] = []
        orders: list[OpenOrderStatus] = []
        fills: list[FillStatus] = []
        latency: dict[str, float] = {}
        risk = RiskStatus(False, "", False, "—")
        if engine is not None:
            drift = self.drift()
            for symbol, inst in engine.instruments.items():
                if feed is not None:
                    books.append(self._book_status(feed, symbol, now))
                position = engine.positions[symbol]
                venue_units = self.venue_balances.get(inst.base, 0)
                positions.append(
                    PositionStatus(
                        EXCHANGE,
                        symbol,
                        inst.size_text(position.size),
                        format_fixed(engine.ledger.balances.get(inst.base, 0), ASSET_SCALE) + " " + inst.base,
                        format_fixed(venue_units, ASSET_SCALE) + " " + inst.base,
                        drift.get(symbol, 0.0),
                        format_fixed(position.realized + engine.unrealized(symbol), inst.notional_scale)
                        + " "
                        + inst.quote,
                    )
                )
                orders.extend(
                    OpenOrderStatus(
                        EXCHANGE,
                        symbol,
                        order.client_id,
                        order.side.value,
                        inst.price_text(order.price),
                        inst.size_text(order.size),
                        inst.size_text(order.filled),
                        order.status.value,
                    )
                    for order in engine.live_orders(symbol)
                )
            for fill in reversed(engine.recent_fills[-20:]):
                inst = engine.instruments[fill.symbol]
                fills.append(
                    FillStatus(
                        EXCHANGE,
                        fill.symbol,
                        fill.client_id,
                        fill.trade_id,
                        fill.side.value,
                        inst.price_text(fill.price),
                        inst.size_text(fill.size),
                    )
                )
            observer = engine.observer
            if isinstance(observer, MetricsObserver):
                latency = percentiles_ms(observer.fill_latencies_ns)
            _, day_start = engine.risk.day_state
            limits = self.settings.risk
            risk = RiskStatus(
                kill_switch_engaged=engine.risk.kill_switch.engaged,
                kill_switch_reason=engine.risk.kill_switch.reason,
                trading_enabled=engine.trading_enabled,
                daily_pnl=format_fixed(engine.total_pnl() - day_start, ASSET_SCALE),
                limits={
                    "daily loss limit": str(limits.daily_loss_limit),
                    "max order notional": str(limits.max_order_notional),
                    "price band (bps)": str(limits.price_band_bps),
                    "max orders/s": str(limits.max_orders_per_second),
                    **{f"max position {s}": str(v) for s, v in limits.max_position.items()},
                    **{f"max order size {s}": str(v) for s, v in limits.max_order_size.items()},
                },
            )
        return StatusSnapshot(
            process=f"{EXCHANGE} {', '.join(self.settings.symbols)}",
            uptime_s=(now - self.started_mono) / 1e9,
            venues=venues,
            books=books,
            positions=positions,
            open_orders=orders,
            fills=fills,
            fill_latency_ms=latency,
            risk=risk,
        )
