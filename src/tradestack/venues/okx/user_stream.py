"""OKX's private stream: log in on every connection, subscribe to `orders`, deliver OrderReports.

On each (re)connect the session sends a freshly signed `login`; its ack triggers the `orders`
subscription (spot); the subscription ack makes the stream ready. A reconnect calls `on_reconnected`:
updates may have been missed while down, so the app reconciles orders and fills by REST (as with
Binance). A refused login (60004-60024) is logged, counted, and retried on the next connection.
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
from tradestack.venues.okx.auth import OkxSigner
from tradestack.venues.okx.session import PING, PONG, PRIVATE_URL, PrivateChannels
from tradestack.venues.okx.user_messages import PROBE, OrdersParser, UserStreamParseError

log = structlog.get_logger("tradestack.okx.user")

ORDERS_SUBSCRIBE = msgspec.json.encode(
    {"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]}
)


class OkxUserStream:
    def __init__(
        self,
        ws_url: str,
        signer: OkxSigner,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
        *,
        venue_time_ns: Callable[[], int] | None = None,
        ping_idle_s: float = 20.0,
        pong_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
    ) -> None:
        """`venue_time_ns`: the venue's clock for the login timestamp (OkxRestGateway.venue_time_ns
        after sync_time); our wall clock when None. OKX refuses a login timestamp 30 s off."""
        self.parser = OrdersParser(instruments)
        self.on_report = on_report
        self._on_reconnected = on_reconnected
        self.on_malformed = on_malformed
        self.logins = 0
        self.login_failures = 0
        self.last_error = ""
        self._ready = asyncio.Event()
        self.session = WsSession(
            PrivateChannels(ws_url or PRIVATE_URL, signer, venue_time_ns or clock.now_ns),
            [StreamSpec("orders")],  # no staleness bound: an idle account is silent (pings keep it up)
            self._on_frame,
            clock=clock,
            backoff=Backoff(backoff_initial_s, backoff_max_s, rng=random.Random()),
            config=SessionConfig(
                "okx-user",
                ping_idle_s=ping_idle_s,
                pong_timeout_s=pong_timeout_s,
                text_ping=PING,
                text_pong=PONG,
            ),
            on_disconnected=self._disconnected,
            on_reconnected=self._reconnected,
        )

    @property
    def ready(self) -> bool:
        """Logged in and subscribed to `orders` on the live connection."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Until logged in and subscribed (bound it with `asyncio.timeout`)."""
        await self._ready.wait()

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self.session.stop()
        self._ready.clear()

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        if payload == PONG:
            return
        if payload.startswith(b'{"arg":{"channel":"orders"'):
            try:
                reports = self.parser.reports(payload)
            except UserStreamParseError as error:
                self.on_malformed("user_stream")
                log.warning("malformed okx orders push dropped", error=str(error)[:300], sample=payload[:200])
                return
            for report in reports:
                self.on_report(report, ts_recv)
            return
        try:
            probe = PROBE(payload)
        except msgspec.DecodeError:
            self.on_malformed("user_stream")
            log.warning("malformed okx private frame dropped", sample=payload[:200])
            return
        if probe.event == "login" and probe.code == "0":
            self.logins += 1
            self.session.send(ORDERS_SUBSCRIBE)
        elif probe.event == "subscribe" and probe.arg is not None and probe.arg.channel == "orders":
            self._ready.set()
            log.info("okx private stream ready")
        elif probe.event == "error":
            self.last_error = f"{probe.code} {probe.msg}"
            if probe.code.startswith("600"):
                self.login_failures += 1
            log.error("okx private stream error", code=probe.code, msg=probe.msg)
        elif probe.event not in ("unsubscribe", "channel-conn-count", "notice"):
            self.on_malformed("user_stream")

    def _disconnected(self, reason: DisconnectReason) -> None:
        self._ready.clear()

    def _reconnected(self, event: Reconnected) -> None:
        # updates may have been missed while down: the app reconciles orders and fills by REST
        self._on_reconnected()
