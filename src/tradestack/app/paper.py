"""`tradestack paper` and friends: settings, secrets, the simulated venue, the runtime, the view."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import structlog
import uvloop
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from tradestack.app import risk_service
from tradestack.app.journal_state import KILL_SWITCH, journal_path
from tradestack.app.runtime import StartupError, TradingRuntime
from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.app.venue_registry import PASSPHRASE_VENUES, for_venue
from tradestack.app.view import percentiles_ms, render
from tradestack.config import ConfigError, Settings, load_settings, render_problems
from tradestack.domain.instruments import InstrumentKind
from tradestack.observability.logging import configure_logging, log_file_path
from tradestack.ports import SystemClock
from tradestack.security.audit import (
    AUDIT_KEY_NAME,
    AuditLog,
    ConfigLoaded,
    SecretAccessed,
    default_sinks,
)
from tradestack.security.aws_secrets import AwsSecretsManagerStore
from tradestack.security.aws_secrets import client as aws_client
from tradestack.security.redaction import redact_secrets
from tradestack.security.secrets import (
    CredentialsInEnvironment,
    FileSecretStore,
    Secret,
    SecretNotFound,
    check_environment,
)
from tradestack.store.sqlite import SqliteJournal
from tradestack.venues.simulated import (
    FlowConfig,
    SimConfig,
    SimulatedExchange,
    SymbolConfig,
    default_symbols,
)
from tradestack.venues.simulated_binance_futures import (
    FuturesSimConfig,
    SimulatedBinanceFuturesExchange,
    coinm_symbols,
    futures_symbols,
)
from tradestack.venues.simulated_binance_futures.server import COIN_MARGIN_BALANCES, MARGIN_BALANCES
from tradestack.venues.simulated_bybit import BybitSimConfig, SimulatedBybitExchange, bybit_symbols
from tradestack.venues.simulated_coinbase import (
    CoinbaseSimConfig,
    SimulatedCoinbaseExchange,
    coinbase_symbols,
)
from tradestack.venues.simulated_kraken import KrakenSimConfig, SimulatedKrakenExchange, kraken_symbols
from tradestack.venues.simulated_okx.server import OkxSimConfig, SimulatedOkxExchange, okx_symbols

log = structlog.get_logger("tradestack.paper")

API_KEY = "binance/api_key"
API_SECRET = "binance/api_secret"


def _settings(config: Path | None, data_dir: Path | None) -> Settings:
    settings = load_settings(config)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def _prepare(config: Path | None, data_dir: Path | None) -> Settings | int:
    """Everything that must be right before anything starts; an exit code when it is not."""
    try:
        settings = _settings(config, data_dir)
    except ConfigError as error:
        print(render_problems(error.problems, source=str(config) if config else None), file=sys.stderr)
        return 2
    try:
        check_environment(os.environ)
    except CredentialsInEnvironment as error:
        print(f"refusing to start: {error}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return settings


def simulator_config(
    settings: Settings, port: int = 0, listed: tuple[SymbolConfig, ...] | None = None
) -> SimConfig:
    """The simulator from settings: the known symbols' filters, with the configured start prices."""
    known = {symbol.symbol: symbol for symbol in (default_symbols() if listed is None else listed)}
    unknown = [symbol for symbol in settings.symbols if symbol not in known]
    if unknown:
        raise StartupError(f"the simulator lists {', '.join(sorted(known))}; it has no {', '.join(unknown)}")
    symbols = tuple(
        replace(known[symbol], start_price=str(settings.simulator.start_prices[symbol]))
        for symbol in settings.symbols
    )
    flow = FlowConfig(seed=settings.simulator.seed, interval_ms=settings.simulator.flow_interval_ms)
    return SimConfig(port=port, symbols=symbols, flow=flow)


def run_paper_command(
    config: Path | None,
    data_dir: Path | None,
    duration: float | None,
    venue_rest: str | None,
    venue_ws: str | None,
    view: bool,
    http_port: int | None = None,
    venue: str | None = None,
) -> int:
    prepared = _prepare(config, data_dir)
    if isinstance(prepared, int):
        return prepared
    if venue is not None:
        try:
            prepared = for_venue(prepared, venue)
        except ValidationError as error:
            print(f"--venue {venue}: {error.errors()[0]['msg']}", file=sys.stderr)
            return 2
    if (venue_rest is None) != (venue_ws is None):
        print("give both --venue-rest and --venue-ws, or neither (built-in simulator)", file=sys.stderr)
        return 2
    handle = configure_logging(
        redactor=redact_secrets, log_file=log_file_path(prepared.data_dir), to_stderr=not view, level="info"
    )
    try:
        return uvloop.run(
            _paper(prepared, config or "embedded", duration, venue_rest, venue_ws, view, http_port)
        )
    finally:
        handle.close()


async def _paper(
    settings: Settings,
    config_source: Path | str,
    duration: float | None,
    venue_rest: str | None,
    venue_ws: str | None,
    view: bool,
    http_port: int | None,
    shard: str = "paper",
) -> int:
    clock = SystemClock()
    store = FileSecretStore(settings.secrets_path)
    sim: _Simulator | None = None
    if venue_rest is None or venue_ws is None:
        try:
            sim, endpoints = await _start_simulator(settings, clock, store)
        except StartupError as error:
            print(f"cannot start: {error}", file=sys.stderr)
            return 2
    else:
        endpoints = Endpoints(venue_rest, venue_ws)
    audit = open_audit(settings, store)
    audit.record(
        ConfigLoaded(str(config_source), hashlib.sha256(settings.model_dump_json().encode()).hexdigest())
    )
    # the built-in simulator's key is in the file store; an external venue's is where the config says
    source = credentials_source(settings, store, audit, built_in_simulator=sim is not None)
    credentials = source(False)
    for name in secret_names(settings.venue):
        if name is not None:
            audit.record(SecretAccessed(name, settings.secrets.store, "trading"))
    try:
        runtime = TradingRuntime(
            settings, endpoints, credentials, clock, http_port, audit, credentials_source=source, shard=shard
        )
    except ValueError as error:  # e.g. a key without the passphrase its venue needs
        print(f"cannot start: {error}", file=sys.stderr)
        if sim is not None:
            await sim.stop()
        audit.close()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    console = Console()
    code = 0
    try:
        await runtime.start()
        print(f"metrics on http://{settings.http.host}:{runtime.http.port}/metrics", file=sys.stderr)
        if view:
            with Live(render(runtime.view_model()), console=console, refresh_per_second=4) as live:
                await _wait(stop, duration, lambda: live.update(render(runtime.view_model())))
        else:
            await _wait(stop, duration, lambda: None)
    except StartupError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        code = 2
    finally:
        await runtime.stop()
        if sim is not None:
            await sim.stop()
        audit.close()
    if code == 0:
        console.print(summary(runtime))
    return code


async def _wait(stop: asyncio.Event, duration: float | None, tick: object) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    while not stop.is_set():
        if deadline is not None and loop.time() >= deadline:
            return
        if callable(tick):
            tick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


def summary(runtime: TradingRuntime) -> Table:
    engine = runtime.engine
    table = Table(title="tradestack paper — summary")
    for column in ("symbol", "position", "realized PnL", "fills", "orders", "drift %"):
        table.add_column(column, justify="right")
    drift = runtime.drift()
    for symbol, inst in engine.instruments.items():
        position = engine.positions[symbol]
        fills = engine.orders.fills_by_symbol.get(symbol, 0)
        orders = engine.orders.orders_by_symbol.get(symbol, 0)
        table.add_row(
            symbol,
            inst.size_text(position.size),
            f"{position.realized / 10**inst.pnl_scale:.{8 if inst.kind is InstrumentKind.INVERSE else 4}f} "
            f"{inst.quote}",
            str(fills),
            str(orders),
            f"{drift.get(symbol, 0.0):.4f}",
        )
    latency = percentiles_ms(runtime.engine.observer.fill_latencies_ns)  # type: ignore[attr-defined]
    tick = percentiles_ms(runtime.tick_to_order_ns)
    table.caption = (
        "fill latency "
        + (", ".join(f"{k} {v:.1f} ms" for k, v in latency.items()) or "n/a")
        + " · tick-to-order "
        + (", ".join(f"{k} {v * 1000:.0f} µs" for k, v in tick.items()) or "n/a")
        + (f" · KILL SWITCH: {engine.risk.kill_switch.reason}" if engine.risk.kill_switch.engaged else "")
    )
    return table


def run_engine_command(
    config: Path | None,
    data_dir: Path | None,
    symbols: tuple[str, ...],
    venues: Mapping[str, tuple[str, str]],  # venue -> (REST URL, stream URL) from exchanges.yaml
    shard: int = 0,
) -> int:
    """One trading shard against a real venue: the shard's symbols, keys from the secret store."""
    prepared = _prepare(config, data_dir)
    if isinstance(prepared, int):
        return prepared
    endpoints = venues.get(prepared.venue)
    if endpoints is None:
        print(f"exchanges.yaml has no {prepared.venue} venue (the config's `venue`)", file=sys.stderr)
        return 2
    rest_url, ws_url = endpoints
    unknown = sorted(set(symbols) - set(prepared.symbols))
    if unknown:
        print(f"shard symbols {', '.join(unknown)} are not in the config's symbols", file=sys.stderr)
        return 2
    settings = prepared.model_copy(update={"symbols": symbols})
    handle = configure_logging(
        redactor=redact_secrets, log_file=log_file_path(settings.data_dir), to_stderr=True
    )
    structlog.contextvars.bind_contextvars(shard=shard)  # every log line of this process names its shard
    try:
        return uvloop.run(
            _paper(settings, config or "embedded", None, rest_url, ws_url, False, None, f"shard-{shard}")
        )
    finally:
        handle.close()


def run_sim_command(config: Path | None, data_dir: Path | None, port: int) -> int:
    prepared = _prepare(config, data_dir)
    if isinstance(prepared, int):
        return prepared
    handle = configure_logging(
        redactor=redact_secrets, log_file=log_file_path(prepared.data_dir), to_stderr=True
    )
    try:
        return uvloop.run(_sim(prepared, port))
    finally:
        handle.close()


async def _sim(settings: Settings, port: int) -> int:
    sim = SimulatedExchange(simulator_config(settings, port), SystemClock())
    await sim.start()
    key, secret = sim.create_api_key(ip_whitelist=("127.0.0.1",))
    store = FileSecretStore(settings.secrets_path)
    store.put(API_KEY, Secret(key))
    store.put(API_SECRET, Secret(secret))
    print(f"rest {sim.rest_url}\nws {sim.ws_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await sim.stop()
    return 0


def run_risk_command(config: Path | None, data_dir: Path | None, shards: frozenset[str] | None = None) -> int:
    """The firm-wide risk service (app/risk_service.py) until SIGINT or SIGTERM."""
    prepared = _prepare(config, data_dir)
    if isinstance(prepared, int):
        return prepared
    handle = configure_logging(
        redactor=redact_secrets, log_file=log_file_path(prepared.data_dir), to_stderr=True
    )
    audit = open_audit(prepared, FileSecretStore(prepared.secrets_path))
    audit.record(
        ConfigLoaded(
            str(config or "embedded"), hashlib.sha256(prepared.model_dump_json().encode()).hexdigest()
        )
    )
    try:
        return uvloop.run(risk_service.serve(prepared, SystemClock(), audit, shards))
    finally:
        audit.close()
        handle.close()


class _Simulator(Protocol):
    async def stop(self) -> None: ...


async def _start_simulator(
    settings: Settings, clock: SystemClock, store: FileSecretStore
) -> tuple[_Simulator, Endpoints]:
    """The built-in simulated exchange speaking the configured venue's dialect, its key in the store."""
    key_name, secret_name, passphrase_name = secret_names(settings.venue)
    if settings.venue == "okx":
        venue_config = simulator_config(settings, listed=okx_symbols())
        okx = SimulatedOkxExchange(OkxSimConfig(venue=venue_config), clock)
        await okx.start()
        key = okx.create_api_key(ip=("127.0.0.1",))
        store.put(key_name, Secret(key.api_key))
        store.put(secret_name, Secret(key.secret))
        if passphrase_name is not None:
            store.put(passphrase_name, Secret(key.passphrase))
        return okx, Endpoints(okx.rest_url, okx.public_ws_url, okx.private_ws_url)
    if settings.venue == "coinbase":
        venue_config = simulator_config(settings, listed=coinbase_symbols())
        coinbase = SimulatedCoinbaseExchange(CoinbaseSimConfig(venue=venue_config), clock)
        await coinbase.start()
        made = coinbase.create_api_key()
        store.put(key_name, Secret(made.api_key))
        store.put(secret_name, Secret(made.secret))
        if passphrase_name is not None:
            store.put(passphrase_name, Secret(made.passphrase))
        return coinbase, Endpoints(coinbase.rest_url, coinbase.ws_url)
    if settings.venue == "bybit":
        venue_config = simulator_config(settings, listed=bybit_symbols())
        bybit = SimulatedBybitExchange(BybitSimConfig(venue=venue_config), clock)
        await bybit.start()
        bybit_key = bybit.create_api_key(ips=("127.0.0.1",))
        store.put(key_name, Secret(bybit_key.api_key))
        store.put(secret_name, Secret(bybit_key.secret))
        return bybit, Endpoints(bybit.rest_url, bybit.public_ws_url, bybit.private_ws_url)
    if settings.venue == "kraken":
        venue_config = simulator_config(settings, listed=kraken_symbols())
        kraken = SimulatedKrakenExchange(KrakenSimConfig(venue=venue_config), clock)
        await kraken.start()
        kraken_key = kraken.create_api_key()
        store.put(key_name, Secret(kraken_key.api_key))
        store.put(secret_name, Secret(kraken_key.secret))
        return kraken, Endpoints(kraken.rest_url, kraken.public_ws_url, kraken.private_ws_url)
    if settings.venue == "binance-futures":
        listed = simulator_config(settings, listed=futures_symbols())
        futures = SimulatedBinanceFuturesExchange(
            FuturesSimConfig(venue=replace(listed, balances=MARGIN_BALANCES)), clock
        )
        await futures.start()
        futures_key, futures_secret = futures.create_api_key(ip_whitelist=("127.0.0.1",))
        store.put(key_name, Secret(futures_key))
        store.put(secret_name, Secret(futures_secret))
        return futures, Endpoints(futures.rest_url, futures.ws_url)
    if settings.venue == "binance-coinm":
        listed = simulator_config(settings, listed=coinm_symbols())
        coinm = SimulatedBinanceFuturesExchange(
            FuturesSimConfig.coinm(replace(listed, balances=COIN_MARGIN_BALANCES)), clock
        )
        await coinm.start()
        coinm_key, coinm_secret = coinm.create_api_key(ip_whitelist=("127.0.0.1",))
        store.put(key_name, Secret(coinm_key))
        store.put(secret_name, Secret(coinm_secret))
        return coinm, Endpoints(coinm.rest_url, coinm.ws_url)
    sim = SimulatedExchange(simulator_config(settings), clock)
    await sim.start()
    api_key, secret = sim.create_api_key(ip_whitelist=("127.0.0.1",))
    store.put(key_name, Secret(api_key))
    store.put(secret_name, Secret(secret))
    return sim, Endpoints(sim.rest_url, sim.ws_url)


def secret_names(venue: str) -> tuple[str, str, str | None]:
    """The file store's names of a venue's key, secret and (where it has one) passphrase."""
    passphrase = f"{venue}/passphrase" if venue in PASSPHRASE_VENUES else None
    return f"{venue}/api_key", f"{venue}/api_secret", passphrase


def credentials_source(
    settings: Settings, store: FileSecretStore, audit: AuditLog, built_in_simulator: bool = False
) -> Callable[[bool], Credentials]:
    """Where the trading key comes from: the data dir's file store, or AWS Secrets Manager.

    The callable takes `force`: after an authentication failure the AWS cache is dropped at once.
    """
    config = settings.secrets
    key_name, secret_name, passphrase_name = secret_names(settings.venue)
    if config.store == "file" or built_in_simulator:

        def from_file(force: bool) -> Credentials:
            passphrase = store.get(passphrase_name) if passphrase_name is not None else None
            return Credentials(store.get(key_name), store.get(secret_name), passphrase)

        return from_file
    aws = AwsSecretsManagerStore(
        aws_client(config.aws_region, endpoint_url=config.aws_endpoint_url),
        refresh_interval_s=config.refresh_interval_seconds,
        overlap_window_s=config.overlap_window_seconds,
        on_access=lambda secret_id, version, why: audit.record(
            SecretAccessed(secret_id, "aws", why, version)
        ),
    )

    def from_aws(force: bool) -> Credentials:
        if force:
            aws.refresh(config.aws_secret_id)
        fields = aws.get_fields(config.aws_secret_id)
        passphrase = fields.get("passphrase") if passphrase_name is not None else None
        return Credentials(fields["api_key"], fields["api_secret"], passphrase)

    return from_aws


def open_audit(settings: Settings, store: FileSecretStore) -> AuditLog:
    """The data dir's audit trail, signed with a key from the secret store (made on first use)."""
    try:
        key = store.get(AUDIT_KEY_NAME)
    except SecretNotFound:
        key = Secret(secrets.token_hex(32))
        store.put(AUDIT_KEY_NAME, key)
    return AuditLog(default_sinks(settings.data_dir), key)


def kill_switch_state(config: Path | None, data_dir: Path | None, firm: bool = False) -> tuple[bool, str]:
    settings = _settings(config, data_dir)
    if firm:
        reason = risk_service.firm_kill_switch_state(settings)
        return bool(reason), reason
    path = journal_path(settings.data_dir)
    if not path.exists():
        return False, ""
    journal = SqliteJournal(path)
    try:
        reason = journal.load().meta.get(KILL_SWITCH, "")
    finally:
        journal.close()
    return bool(reason), reason


def reset_kill_switch(config: Path | None, data_dir: Path | None, firm: bool = False) -> str:
    settings = _settings(config, data_dir)
    engaged, reason = kill_switch_state(config, data_dir, firm)
    if not engaged:
        return f"{'firm ' if firm else ''}kill switch was not engaged"
    if firm:
        message = risk_service.reset_firm_kill_switch(settings)
    else:
        journal = SqliteJournal(journal_path(settings.data_dir))
        try:
            journal.put_meta_sync(KILL_SWITCH, "")
        finally:
            journal.close()
        message = f"kill switch reset (was: {reason}); trading resumes on the next start"
    handle = configure_logging(
        redactor=redact_secrets, log_file=log_file_path(settings.data_dir), to_stderr=False
    )
    structlog.get_logger("tradestack.audit").warning(
        "kill switch reset by operator", was=reason, scope="firm" if firm else "shard"
    )
    handle.close()
    return message
