"""Binance's user data stream: a listen key, kept alive, and a session that delivers order reports."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping

import structlog

from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.errors import VenueError
from tradestack.venues._shared.ws_session import Reconnected, SessionConfig, StreamSpec, WsSession
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.binance.session import UserDataStream
from tradestack.venues.binance.user_messages import Balances, UserStreamParseError, UserStreamParser

log = structlog.get_logger("tradestack.binance.user")

KEEPALIVE_S = 30 * 60  # Binance expires a listen key after 60 minutes without a keepalive


class BinanceUserStream:
    def __init__(
        self,
        ws_base: str,
        gateway: BinanceRestGateway,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_balances: Callable[[Balances], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
        ping_idle_s: float = 10.0,
        pong_timeout_s: float = 5.0,
    ) -> None:
        self.ws_base = ws_base
        self.gateway = gateway
        self.clock = clock
        self.parser = UserStreamParser(instruments)
        self.on_report = on_report
        self.on_balances = on_balances
        self._on_reconnected = on_reconnected
        self.on_malformed = on_malformed
        self._config = SessionConfig("binance-user", ping_idle_s=ping_idle_s, pong_timeout_s=pong_timeout_s)
        self.session: WsSession | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self.listen_key = ""

    async def start(self) -> None:
        self.listen_key = await self.gateway.create_listen_key()
        self.session = WsSession(
            UserDataStream(self.ws_base, self.listen_key),
            [StreamSpec("user")],  # no staleness bound: an idle account is silent
            self._on_frame,
            clock=self.clock,
            backoff=Backoff(0.1, 10.0, rng=random.Random()),
            config=self._config,
            on_reconnected=self._reconnected,
        )
        await self.session.start()
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def stop(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self.session is not None:
            await self.session.stop()
        if self.listen_key:
            with contextlib.suppress(VenueError):
                await self.gateway.close_listen_key(self.listen_key)

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        try:
            event = self.parser.parse(payload)
        except UserStreamParseError as error:  # the only thing parse raises
            self.on_malformed("user_stream")
            log.warning("malformed user-stream frame dropped", error=str(error)[:300], sample=payload[:200])
            return
        if isinstance(event, OrderReport):
            self.on_report(event, ts_recv)
        elif isinstance(event, Balances):
            self.on_balances(event)

    def _reconnected(self, event: Reconnected) -> None:
        # events may have been missed while down: the app reconciles fills and orders
        self._on_reconnected()

    async def _keep_alive(self) -> None:
        backoff = Backoff(1.0, 60.0, rng=random.Random())
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                await self.gateway.keepalive_listen_key(self.listen_key)
                backoff.reset()
            except VenueError as error:
                log.warning("listen key keepalive failed", error=str(error))
                await asyncio.sleep(backoff.next_delay())
