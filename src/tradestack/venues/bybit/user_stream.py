"""Bybit's private stream: authenticate on every connection, subscribe to `order`, `execution` and
`wallet`, deliver OrderReports and balances.

On each (re)connect the session sends a freshly signed `auth`; its ack triggers the subscription;
the subscription ack makes the stream ready. A reconnect calls `on_reconnected`: updates may have
been missed while down, so the app reconciles orders and fills by REST. A refused auth is logged,
counted, and retried on the next connection.
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
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.client_ids import OrderDirectory
from tradestack.venues.bybit.session import APP_PING_S, PRIVATE_URL, AppPing, PrivateChannels, subscription
from tradestack.venues.bybit.user_messages import PROBE, UserParser, UserStreamParseError

log = structlog.get_logger("tradestack.bybit.user")

TOPICS = ("order", "execution", "wallet")


class BybitUserStream:
    def __init__(
        self,
        ws_url: str,
        signer: BybitSigner,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
        on_balances: Callable[[Mapping[str, int]], None] = lambda balances: None,
        *,
        venue_time_ns: Callable[[], int] | None = None,
        directory: OrderDirectory | None = None,
        ping_idle_s: float = 10.0,
        pong_timeout_s: float = 5.0,
        app_ping_s: float = APP_PING_S,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
    ) -> None:
        """`venue_time_ns`: the venue's clock for the auth expiry (BybitRestGateway.venue_time_ns
        after sync_time); our wall clock when None."""
        self.parser = UserParser(instruments, directory)
        self.on_report = on_report
        self.on_balances = on_balances
        self._on_reconnected = on_reconnected
        self.on_malformed = on_malformed
        self.auths = 0
        self.auth_failures = 0
        self.last_error = ""
        self._ready = asyncio.Event()
        self.session = WsSession(
            PrivateChannels(ws_url or PRIVATE_URL, signer, venue_time_ns or clock.now_ns),
            [StreamSpec(topic) for topic in TOPICS],  # no staleness bound: an idle account is silent
            self._on_frame,
            clock=clock,
            backoff=Backoff(backoff_initial_s, backoff_max_s, rng=random.Random()),
            config=SessionConfig("bybit-user", ping_idle_s=ping_idle_s, pong_timeout_s=pong_timeout_s),
            on_disconnected=self._disconnected,
            on_reconnected=self._reconnected,
        )
        self._app_ping = AppPing(self.session, app_ping_s)

    @property
    def ready(self) -> bool:
        """Authenticated and subscribed on the live connection."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Until authenticated and subscribed (bound it with `asyncio.timeout`)."""
        await self._ready.wait()

    async def start(self) -> None:
        await self.session.start()
        self._app_ping.start()

    async def stop(self) -> None:
        await self._app_ping.stop()
        await self.session.stop()
        self._ready.clear()

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        try:
            probe = PROBE(payload)
            if probe.topic is not None:
                self._push(probe.topic, payload, ts_recv)
                return
        except (UserStreamParseError, msgspec.DecodeError) as error:
            self.on_malformed("user_stream")
            log.warning("malformed bybit private frame dropped", error=str(error)[:300], sample=payload[:200])
            return
        if probe.op == "auth":
            if probe.success:
                self.auths += 1
                for frame in subscription("subscribe", TOPICS):
                    self.session.send(frame)
            else:
                self.auth_failures += 1
                self.last_error = probe.ret_msg
                log.error("bybit private stream auth refused", msg=probe.ret_msg)
        elif probe.op == "subscribe":
            if probe.success:
                self._ready.set()
                log.info("bybit private stream ready")
            else:
                self.last_error = probe.ret_msg
                log.error("bybit private subscription refused", msg=probe.ret_msg)
        elif probe.op not in ("pong", "ping", "unsubscribe"):
            self.on_malformed("user_stream")

    def _push(self, topic: str, payload: bytes, ts_recv: int) -> None:
        if topic == "order":
            reports = self.parser.orders(payload)
        elif topic == "execution":
            reports = self.parser.executions(payload)
        elif topic == "wallet":
            self.on_balances(self.parser.balances(payload))
            return
        else:
            raise UserStreamParseError(f"unknown topic {topic[:40]!r}")
        for report in reports:
            self.on_report(report, ts_recv)

    def _disconnected(self, reason: DisconnectReason) -> None:
        self._ready.clear()

    def _reconnected(self, event: Reconnected) -> None:
        # updates may have been missed while down: the app reconciles orders and fills by REST
        self._on_reconnected()
