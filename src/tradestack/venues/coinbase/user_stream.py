"""Coinbase Exchange's private stream: the signed `user` channel on the ws-feed -> OrderReports.

On each (re)connect the session sends a freshly signed `subscribe` to `user` and `heartbeat` for the
products; the `subscriptions` answer naming `user` makes the stream ready. An `error` answer (a
refused signature, say) is logged, counted, and the subscribe is tried again on the next connection.
The heartbeat channel keeps the connection's liveness visible (one message a second per product;
a silence longer than `staleness_s` reconnects). A reconnect calls `on_reconnected`: updates may
have been missed while down, so the app reconciles orders and fills by REST.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping

import msgspec
import structlog

from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.ws_session import (
    DisconnectReason,
    Reconnected,
    SessionConfig,
    StreamSpec,
    WsSession,
)
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner
from tradestack.venues.coinbase.client_ids import OrderDirectory
from tradestack.venues.coinbase.session import WS_URL, UserChannels
from tradestack.venues.coinbase.user_messages import UserParser, UserStreamParseError

log = structlog.get_logger("tradestack.coinbase.user")


class _Channel(msgspec.Struct, frozen=True):
    name: str
    product_ids: list[str] = []


class _Control(msgspec.Struct, frozen=True):
    type: str
    channels: list[_Channel] = []
    message: str = ""
    reason: str = ""


_CONTROL = msgspec.json.Decoder(_Control).decode
_ORDER_TYPES = (b'{"type":"received"', b'{"type":"open"', b'{"type":"match"', b'{"type":"done"')


class CoinbaseUserStream:
    def __init__(
        self,
        ws_url: str,
        signer: CoinbaseExchangeSigner,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
        *,
        directory: OrderDirectory | None = None,
        venue_time_ns: Callable[[], int] | None = None,
        staleness_s: float | None = 10.0,
        ping_idle_s: float = 20.0,
        pong_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
    ) -> None:
        """`directory`: CoinbaseTrading's, so orders placed before this connection are recognised.
        `venue_time_ns`: the venue's clock for the subscribe timestamp (gateway.venue_time_ns after
        sync_time); our wall clock when None. Coinbase refuses a timestamp 30 s off."""
        self.parser = UserParser(instruments, directory)
        self.on_report = on_report
        self._on_reconnected = on_reconnected
        self.on_malformed = on_malformed
        self.subscribes = 0
        self.failures = 0
        self.last_error = ""
        self._ready = asyncio.Event()
        self.session = WsSession(
            UserChannels(ws_url or WS_URL, signer, venue_time_ns or clock.now_ns, list(instruments)),
            [StreamSpec("user"), StreamSpec("heartbeat", stale_after_s=staleness_s)],
            self._on_frame,
            clock=clock,
            backoff=Backoff(backoff_initial_s, backoff_max_s, rng=random.Random()),
            config=SessionConfig("coinbase-user", ping_idle_s=ping_idle_s, pong_timeout_s=pong_timeout_s),
            on_disconnected=self._disconnected,
            on_reconnected=self._reconnected,
        )

    @property
    def ready(self) -> bool:
        """Subscribed to `user` on the live connection."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Until subscribed (bound it with `asyncio.timeout`)."""
        await self._ready.wait()

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self.session.stop()
        self._ready.clear()

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        if payload.startswith(b'{"type":"heartbeat"'):
            return
        if payload.startswith(_ORDER_TYPES):
            try:
                reports = self.parser.reports(payload)
            except UserStreamParseError as error:
                self.on_malformed("user_stream")
                log.warning(
                    "malformed coinbase user message dropped", error=str(error)[:300], sample=payload[:200]
                )
                return
            for report in reports:
                self.on_report(report, ts_recv)
            return
        try:
            control = _CONTROL(payload)
        except msgspec.DecodeError:
            self.on_malformed("user_stream")
            log.warning("malformed coinbase private frame dropped", sample=payload[:200])
            return
        if control.type == "subscriptions":
            if any(channel.name == "user" for channel in control.channels):
                self.subscribes += 1
                self._ready.set()
                log.info("coinbase private stream ready")
        elif control.type == "error":
            self.failures += 1
            self.last_error = f"{control.message}: {control.reason}" if control.reason else control.message
            self._ready.clear()
            log.error("coinbase private stream error", message=control.message, reason=control.reason)
        elif control.type not in ("change", "activate", "status"):
            self.on_malformed("user_stream")

    def _disconnected(self, reason: DisconnectReason) -> None:
        self._ready.clear()

    def _reconnected(self, event: Reconnected) -> None:
        # updates may have been missed while down: the app reconciles orders and fills by REST
        self._on_reconnected()
