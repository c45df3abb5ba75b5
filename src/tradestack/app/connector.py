"""`tradestack connector`: one venue's market data as its own process (the unit a Deployment runs).

It keeps every configured symbol's book in sync with the venue (resyncing a symbol alone on a gap),
and serves /metrics (data age, gaps, resyncs, messages, connection state), /healthz and /readyz (200
once every book is synced). It holds no keys and places no orders: public endpoints only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import structlog
import uvloop

from tradestack.app.runtime import FeedMetrics
from tradestack.app.venue_connector import Credentials, Endpoints, FeedTuning, MarketFeed
from tradestack.app.venue_registry import connect
from tradestack.config import Settings
from tradestack.domain.events import TradePrint
from tradestack.observability.http import HttpServer, Readiness
from tradestack.observability.metrics import Metrics
from tradestack.ports import SystemClock
from tradestack.security.secrets import Secret

log = structlog.get_logger("tradestack.connector")

# public market-data endpoints are not signed; the signers are built but never used here
_PUBLIC_ONLY = Credentials(Secret("public-endpoints-only"), Secret("AAAA"), Secret("unused"))


def run_connector(settings: Settings, rest_url: str, ws_url: str, duration: float | None = None) -> int:
    return uvloop.run(_connector(settings, rest_url, ws_url, duration))


async def _connector(settings: Settings, rest_url: str, ws_url: str, duration: float | None) -> int:
    clock = SystemClock()
    metrics = Metrics(clock)
    venue = settings.venue
    connector = connect(venue, Endpoints(rest_url, ws_url), _PUBLIC_ONLY, clock)
    feed: MarketFeed | None = None

    def readiness() -> Readiness:
        if feed is None:
            return Readiness({"market_data": "not started"})
        return Readiness(
            {f"book:{s}": sync.state.value for s, sync in feed.syncs.items() if sync.state.value != "synced"}
        )

    http = HttpServer(metrics.registry, readiness, host=settings.http.host, port=settings.http.port)
    await http.start()
    try:
        await connector.start()
        instruments = await connector.instruments(list(settings.symbols))
        missing = sorted(set(settings.symbols) - set(instruments))
        if missing:
            print(
                f"the venue does not list {', '.join(missing)}: fix `symbols` in the config", file=sys.stderr
            )
            return 2
        tuning = settings.feed
        observer = FeedMetrics(metrics, list(instruments), venue)

        def on_book(symbol: str, book: object, synced: bool, ts_recv: int) -> None:
            observer.synced(symbol, synced)

        def on_trade(trade: TradePrint) -> None:
            return None

        feed = connector.market_feed(
            instruments,
            on_book,
            on_trade,
            FeedTuning(
                staleness_s=tuning.staleness_seconds,
                ping_idle_s=tuning.ping_interval_seconds,
                pong_timeout_s=tuning.pong_timeout_seconds,
                backoff_initial_s=tuning.backoff_initial_seconds,
                backoff_max_s=tuning.backoff_max_seconds,
                snapshot_limit=tuning.snapshot_limit,
            ),
            observer,
        )
        await feed.start()
        running = feed.session
        stream = metrics.for_stream(venue, "market")

        async def connection_state() -> None:
            while True:
                stream.set_up(str(running.state) == "running")
                await asyncio.sleep(1.0)

        watcher = asyncio.get_running_loop().create_task(connection_state())
        print(f"metrics on http://{settings.http.host}:{http.port}/metrics", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        with contextlib.suppress(TimeoutError):  # --duration elapsed
            await asyncio.wait_for(stop.wait(), duration)
        watcher.cancel()
        return 0
    finally:
        if feed is not None:
            await feed.stop()
        await connector.close()
        await http.stop()
