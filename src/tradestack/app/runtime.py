"""One trading process wired together: connector, engine, risk, journal, metrics. Same code for paper
and live; only the endpoints and where the credentials come from differ (see app/paper.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from tradestack.app.journal_state import open_for_account, restore, set_baseline, trade_floor_key
from tradestack.app.observer import MetricsObserver
from tradestack.app.reconcile import ReconcileReport, drift_by_symbol, reconcile, recover_fills
from tradestack.app.risk_link import RiskLink
from tradestack.app.trader import Trader
from tradestack.app.venue_connector import (
    Credentials,
    Endpoints,
    FeedTuning,
    MarketFeed,
    UserStream,
    VenueConnector,
    VenueTrading,
)
from tradestack.app.venue_registry import connect
from tradestack.app.view import SymbolRow, ViewModel, percentiles_ms
from tradestack.config import Settings
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import TradePrint
from tradestack.domain.instruments import Instrument, InstrumentKind, format_fixed, pow10
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.positions import ASSET_SCALE, TradeFloor
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.firm import ShardReport, Verdict, shard_report
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.commands import Cancel, CancelAll, Command, Submit
from tradestack.engine.core import Engine
from tradestack.observability.http import HttpServer, Readiness
from tradestack.observability.metrics import Metrics
from tradestack.observability.sample_ring import SampleRing
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
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams
from tradestack.venues._shared.errors import VenueError
from tradestack.venues._shared.ws_session import SessionState, WsSession

log = structlog.get_logger("tradestack.runtime")

EXCHANGE = "binance"  # the venue of `tradestack connector` (market data only)
CLIENT_ID_PREFIX = "ts1"
FINAL_FILLS_TIMEOUT_S = 5.0
TICK_SAMPLES = 10_000  # the last tick-to-order times kept for the view's percentiles
BALANCE_POLL_TICKS = 5  # housekeeping ticks (1 s) between REST balance polls, where the venue needs them
__all__ = ["Endpoints", "StartupError", "TradingRuntime"]


class StartupError(RuntimeError):
    """The process cannot start trading; the message says why and what to do."""


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


def _credential_digest(credentials: Credentials) -> bytes:
    parts = (credentials.api_key, credentials.api_secret, credentials.passphrase)
    return hashlib.sha256(b"\0".join(p.reveal().encode() for p in parts if p is not None)).digest()


def _shown(instrument: Instrument) -> int:
    """Decimals a PnL is shown with: the price's, or the coin's balance precision on an inverse contract."""
    return ASSET_SCALE if instrument.kind is InstrumentKind.INVERSE else instrument.price_scale


class FeedMetrics:
    """A feed's observer hooks, bound to one venue's metrics."""

    def __init__(self, metrics: Metrics, symbols: list[str], exchange: str = EXCHANGE) -> None:
        self.exchange = metrics.for_exchange(exchange)
        self.symbols = {symbol: metrics.for_symbol(exchange, symbol) for symbol in symbols}

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
        credentials: Credentials,
        clock: Clock,
        http_port: int | None = None,
        audit: AuditLog | None = None,
        credentials_source: Callable[[bool], Credentials] | None = None,
        shard: str = "paper",
    ) -> None:
        self.settings = settings
        self.shard = shard  # this process's name at the firm risk service
        self.audit = audit
        self._credentials = credentials_source  # re-read to pick up a rotated key
        self.venue_name = settings.venue
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
        self._credentials_in_use = _credential_digest(credentials)
        self.connector: VenueConnector = connect(
            settings.venue, endpoints, credentials, clock, on_order_written=self._on_order_written
        )
        self.reconciled = False
        self.draining = False
        self.reconcile_report: ReconcileReport | None = None
        self.venue_balances: dict[str, int] = {}
        self._pushed_during_reconcile: dict[str, int] | None = None
        self.started_mono = clock.monotonic_ns()
        self.tick_to_order_ns = SampleRing(TICK_SAMPLES)
        self._tick_start: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._journal: SqliteJournal | None = None
        self._feed: MarketFeed | None = None
        self._user: UserStream | None = None
        self._venue: VenueTrading | None = None
        self._floors: dict[str, TradeFloor] = {}  # venue trades already in a fresh journal's balances
        self._engine: Engine | None = None
        self._trader: Trader | None = None
        self._risk_link: RiskLink | None = None
        self._risk_allows = settings.risk_service.url is None  # no service: own limits alone

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
    def feed(self) -> MarketFeed:
        assert self._feed is not None, "start() first"
        return self._feed

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.metrics.set_component_state("engine", "starting")
        self._install_monitoring()
        await self.http.start()
        name = self.venue_name
        await self.connector.start()
        await self._check_key()
        self.metrics.set_api_key(name, self.connector.api_key_fingerprint)
        instruments = await self.connector.instruments(list(self.settings.symbols))
        missing = sorted(set(self.settings.symbols) - set(instruments))
        if missing:
            raise StartupError(f"the venue does not list {', '.join(missing)}: fix `symbols` in the config")
        venue = self.connector.trading(instruments)
        account = await venue.account_id()
        journal, fresh = open_for_account(self.data_dir, f"{name}:{account}")
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
            MetricsObserver(self.metrics, name, list(instruments), self.audit),
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
        feed = self.settings.feed
        self._feed = self.connector.market_feed(
            instruments,
            self._on_book,
            self._on_trade,
            FeedTuning(
                staleness_s=feed.staleness_seconds,
                ping_idle_s=feed.ping_interval_seconds,
                pong_timeout_s=feed.pong_timeout_seconds,
                backoff_initial_s=feed.backoff_initial_seconds,
                backoff_max_s=feed.backoff_max_seconds,
                snapshot_limit=feed.snapshot_limit,
            ),
            FeedMetrics(self.metrics, list(instruments), name),
        )
        self._user = self.connector.user_stream(
            instruments,
            self._on_report,
            self._on_balances,
            self._on_user_reconnected,
            self.metrics.for_exchange(name).message_malformed,
        )
        await self._user.start()  # before reconciling, so nothing that happens after it is missed
        self._floors = floors = await self._trade_floors(venue, fresh)
        if fresh:  # a new journal starts from the venue's balances; fills after this move them
            baseline = await venue.balances()
            set_baseline(journal, baseline)
            for asset, amount in baseline.items():
                engine.ledger.set_balance(asset, amount)
        self._pushed_during_reconcile = {}
        self.reconcile_report = await reconcile(engine, venue, self.clock, floors)
        # the REST snapshot, then every balance the stream pushed meanwhile: a push carries the
        # balance after its own fill, so replaying them in order never ends older than the snapshot
        balances = dict(self.reconcile_report.venue_balances)
        balances.update(self._pushed_during_reconcile)
        self._pushed_during_reconcile = None
        self.venue_balances = balances
        for order in self.reconcile_report.in_flight:
            self._spawn(self.trader.resolve(order))
        self._update_drift()
        self.reconciled = True
        self._start_risk_link()
        self._update_trading_gate()
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
                await self._final_fills()
        for task in list(self._tasks):
            task.cancel()
        if self._feed is not None:
            await self._feed.stop()
        if self._user is not None:
            await self._user.stop()
        await self.connector.close()
        await self.http.stop()
        if self._journal is not None:
            if self._engine is not None and self.reconcile_report is not None:
                self._engine.snapshot()  # the next start replays nothing
            self._journal.close()

    def refresh_credentials(self, force: bool = False) -> bool:
        """Re-read the key from the secret store; sign with it from the next request if it changed.

        Called every second and at once on an authentication failure, so a rotation that keeps the old
        key valid until every engine reports the new fingerprint loses no order.
        """
        if self._credentials is None:
            return False
        try:
            credentials = self._credentials(force)
        except Exception as error:  # a store that cannot be read now keeps the current key
            log.warning("secret store unreadable; keeping the current key", error=type(error).__name__)
            return False
        digest = _credential_digest(credentials)
        if digest == self._credentials_in_use:
            return False
        self._credentials_in_use = digest
        self.connector.use_credentials(credentials)
        fingerprint = self.connector.api_key_fingerprint
        self.metrics.set_api_key(self.venue_name, fingerprint)
        if self.audit is not None:
            self.audit.record(
                SecretAccessed(
                    f"{self.venue_name}/api_key", self.settings.secrets.store, "rotation", fingerprint
                )
            )
        log.warning("API key rotated in the secret store: signing with the new key", fingerprint=fingerprint)
        return True

    async def _check_key(self) -> None:
        """Refuse a key that can withdraw, or lacks an IP whitelist when the config requires one."""
        policy = KeyPolicy(require_ip_whitelist=self.settings.security.require_ip_whitelist)
        try:
            await self.connector.check_key(policy)
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
                    self.venue_name,
                )
            )
        elif isinstance(command, Cancel):
            order = command.order
            audit.record(OrderCanceled(order.client_id, order.symbol, "strategy", self.venue_name))
        else:
            audit.record(OrderCanceled("*", command.symbol, command.reason, self.venue_name))

    # -- readiness --------------------------------------------------------------------------------------
    async def _drain(self, request: web.Request) -> web.Response:
        """POST /drain (a pod's preStop): stop trading, cancel every open order, report what is left."""
        self.draining = True
        if self._engine is None or self._trader is None:
            return web.json_response({"drained": True, "open_orders": 0})
        self._update_trading_gate()
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
        elif self._risk_link is not None and self._risk_link.last_verdict is None:
            not_ready["risk_service"] = "no verdict yet from " + self._risk_link.url
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

    def _on_balances(self, balances: Mapping[str, int]) -> None:
        self.venue_balances.update(balances)
        if self._pushed_during_reconcile is not None:
            self._pushed_during_reconcile.update(balances)
        self._update_drift()

    def _on_user_reconnected(self) -> None:
        self._spawn(self._recover_after_outage())

    async def _final_fills(self) -> None:
        """A clean stop leaves the journal complete: an order can fill at the venue just before the
        shutdown cancel reaches it, and its report may not arrive before the streams close."""
        if self._venue is None or not self.reconciled:
            return
        try:
            found = await asyncio.wait_for(
                recover_fills(self.engine, self._venue, self._floors), FINAL_FILLS_TIMEOUT_S
            )
        except (VenueError, TimeoutError) as error:
            log.warning("could not check for last fills at stop; the next start will", error=repr(error))
            return
        if found:
            log.info("fills that arrived during shutdown journaled", count=found)

    async def _recover_after_outage(self) -> None:
        assert self._venue is not None
        found = await recover_fills(self.engine, self._venue, self._floors)
        if found:
            log.warning("fills recovered after a user-stream outage", count=found)

    def _on_order_written(self, client_id: str, sent_ns: int) -> None:
        start = self._tick_start.pop(client_id, None)
        if start:
            elapsed = sent_ns - start
            self.metrics.observe_tick_to_order_ns(elapsed)
            self.tick_to_order_ns.append(elapsed)

    # -- the firm risk service ---------------------------------------------------------------------------
    def _start_risk_link(self) -> None:
        link = self.settings.risk_service
        if link.url is None:
            return
        self._risk_link = RiskLink(
            link.url,
            link.report_interval_seconds,
            link.timeout_seconds,
            self.clock,
            self._shard_report,
            self._on_risk_verdict,
        )
        self.metrics.set_risk_link_up(link.url, False)
        self._spawn(self._risk_link.run())

    def _shard_report(self) -> ShardReport:
        engine = self.engine
        mids = {
            symbol: book.mid_x2() if engine.synced.get(symbol, False) else None
            for symbol, book in engine.books.items()
        }
        return shard_report(self.shard, engine.positions, mids, engine.risk.kill_switch.engaged)

    def _on_risk_verdict(self, verdict: Verdict | None) -> None:
        """None: the service has been silent past its timeout. Either way, stop opening risk unless
        the verdict allows it; a kill latches this shard's own kill switch (which cancels all)."""
        engine = self.engine
        self.metrics.set_risk_link_up(self.settings.risk_service.url or "", verdict is not None)
        allowed_before = self._risk_allows
        self._risk_allows = verdict is not None and verdict.allow
        if verdict is not None and verdict.kill and not engine.risk.kill_switch.engaged:
            self.trader.execute(engine.trip_kill_switch(f"firm risk: {verdict.reason}"))
        elif allowed_before and not self._risk_allows:
            why = "unreachable" if verdict is None else verdict.reason
            log.warning("firm risk service stops this shard: cancelling its orders", why=why)
            self.trader.execute(CancelAll(symbol, "firm_risk") for symbol in engine.instruments)
        elif self._risk_allows and not allowed_before:
            log.info("firm risk service allows trading", shard=self.shard)
        self._update_trading_gate()

    def _update_trading_gate(self) -> None:
        if self._engine is not None:
            self._engine.trading_enabled = self.reconciled and self._risk_allows and not self.draining

    # -- periodic -------------------------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        exchange = self.metrics.for_exchange(self.venue_name)
        loop = asyncio.get_running_loop()
        lag = 0.0
        ticks = 0
        while True:
            self.refresh_credentials()
            ticks += 1
            if not self.connector.pushes_balances and ticks % BALANCE_POLL_TICKS == 0:
                self._spawn(self._poll_balances())
            engine = self.engine
            for symbol, position in engine.positions.items():
                metrics = self.metrics.for_symbol(self.venue_name, symbol)
                metrics.set_position(position.size, position.instrument.size_scale)
                metrics.set_open_orders(len(engine.live_orders(symbol)))
            realized = engine.realized_pnl()
            exchange.set_pnl(realized, engine.total_pnl() - realized, ASSET_SCALE)
            ratio = self.connector.usage_ratio()
            exchange.set_rate_limit_usage(int(ratio * 1_000_000), 1_000_000)
            self._tick_start = {k: v for k, v in self._tick_start.items() if k in engine.orders.orders}
            queues = {"commands_in_flight": self.trader.in_flight}
            if self._journal is not None:
                queues["journal"] = self._journal.queue_depth
            if self._feed is not None:
                queues["book_buffer"] = sum(
                    getattr(sync, "buffered", 0) for sync in self._feed.syncs.values()
                )
            if self.audit is not None:
                queues["audit"] = self.audit.queue_depth
            self.metrics.set_process_health(lag, len(asyncio.all_tasks(loop)), queues)
            # lag: how late this sleep wakes, on the loop's own clock (the one asyncio.sleep keeps)
            asleep = loop.time()
            await asyncio.sleep(1.0)
            lag = max(0.0, loop.time() - asleep - 1.0)

    async def _poll_balances(self) -> None:
        """For venues whose private stream does not push balances: drift needs the venue's figures."""
        if self._venue is None:
            return
        try:
            balances = await self._venue.balances()
        except VenueError as error:
            log.warning("balances poll failed; drift uses the last figures", error=str(error))
            return
        self._on_balances(balances)

    def _update_drift(self) -> None:
        engine = self.engine
        for symbol, inst in engine.instruments.items():
            self.metrics.for_symbol(self.venue_name, symbol).set_position_drift(
                engine.ledger.balances.get(inst.base, 0), self.venue_balances.get(inst.base, 0)
            )

    async def _trade_floors(self, venue: VenueTrading, fresh: bool) -> dict[str, TradeFloor]:
        """On a fresh journal, trades already at the venue are in its balances: start after them."""
        assert self._journal is not None
        meta = self._journal.load().meta
        floors: dict[str, TradeFloor] = {}
        for symbol in self.engine.instruments:
            key = trade_floor_key(symbol)
            if fresh:
                floor = TradeFloor.of([fill for fill, _ in await venue.fills(symbol, None)])
                if floor is not None:
                    self._journal.put_meta_sync(key, floor.encode())
                    floors[symbol] = floor
            elif key in meta:
                floors[symbol] = TradeFloor.decode(meta[key])
        return floors

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what people see -------------------------------------------------------------------------------------
    def drift(self) -> dict[str, float]:
        return drift_by_symbol(self.engine, self.venue_balances)

    def _book_status(self, feed: MarketFeed, symbol: str, now_mono_ns: int) -> BookStatus:
        """Best bid/ask, data age and integrity state of one book: the view and /status show the same."""
        inst = feed.instruments[symbol]
        sync = feed.syncs[symbol]
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        age = feed.data_age_ns(symbol, now_mono_ns)
        return BookStatus(
            self.venue_name,
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
            pnl = format_fixed(position.realized + engine.unrealized(symbol), inst.pnl_scale)
            rows.append(
                SymbolRow(
                    symbol=symbol,
                    bid=book.best_bid,
                    ask=book.best_ask,
                    data_age_ms=book.age_ms,
                    book_state=book.state,
                    position=inst.size_text(position.size),
                    pnl=pnl[: -(inst.pnl_scale - _shown(inst)) or None] + " " + inst.quote,
                    open_orders=len(engine.live_orders(symbol)),
                    fills=sum(1 for fill in engine.recent_fills if fill.symbol == symbol),
                )
            )
        observer = engine.observer
        latencies = observer.fill_latencies_ns if isinstance(observer, MetricsObserver) else []
        sent, rejected = engine.orders.created, engine.orders.rejected
        return ViewModel(
            venue=self.venue_name,
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
            self.metrics.for_symbol(self.venue_name, symbol).set_market_data_age_bound(bound)
        self._spawn(self._monitor_connections())

    def _sessions(self) -> dict[str, WsSession | None]:
        return {
            "market": self._feed.session if self._feed is not None else None,
            "user": self._user.session if self._user is not None else None,
        }

    async def _monitor_connections(self) -> None:
        """Every second: trading_websocket_up and _reconnects_total per stream, trading_quoting per symbol."""
        streams = {name: self.metrics.for_stream(self.venue_name, name) for name in ("market", "user")}
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
                    self.metrics.for_symbol(self.venue_name, symbol).set_quoting(quoting)
            await asyncio.sleep(1.0)

    def status_snapshot(self) -> StatusSnapshot:
        """Plain values for the status page (observability/status_page.py); valid before start() ends."""
        now = self.clock.monotonic_ns()
        venues = [
            VenueStatus(self.venue_name, name, str(session.state), session.state is SessionState.RUNNING)
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
                        self.venue_name,
                        symbol,
                        inst.size_text(position.size),
                        format_fixed(engine.ledger.balances.get(inst.base, 0), ASSET_SCALE) + " " + inst.base,
                        format_fixed(venue_units, ASSET_SCALE) + " " + inst.base,
                        drift.get(symbol, 0.0),
                        format_fixed(position.realized + engine.unrealized(symbol), inst.pnl_scale)
                        + " "
                        + inst.quote,
                    )
                )
                orders.extend(
                    OpenOrderStatus(
                        self.venue_name,
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
                        self.venue_name,
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
            process=f"{self.venue_name} {', '.join(self.settings.symbols)}",
            uptime_s=(now - self.started_mono) / 1e9,
            venues=venues,
            books=books,
            positions=positions,
            open_orders=orders,
            fills=fills,
            fill_latency_ms=latency,
            risk=risk,
        )
