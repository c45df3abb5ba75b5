"""Kraken's private stream (ws-auth v2): a fresh token on every connection, `executions` and
`balances`, delivered as OrderReports and balance totals.

Subscriptions need a token from REST (GetWebSocketsToken, good for 15 minutes to open one). On each
(re)connect the stream asks for a new token, then subscribes `executions` (open orders snapshot, no
trade snapshot: fills missed while down are reconciled by REST) and `balances`. The `executions`
ack makes the stream ready. A reconnect calls `on_reconnected`, as with every venue. A token that
cannot be had, or a refused subscription, is logged and tried again after `retry_s` while connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping

import msgspec
import structlog

from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.errors import VenueError
from tradestack.venues._shared.ws_session import (
    DisconnectReason,
    Reconnected,
    SessionConfig,
    StreamSpec,
    WsSession,
)
from tradestack.venues.kraken.client_ids import OrderDirectory
from tradestack.venues.kraken.session import PRIVATE_URL, PrivateChannels, channel_of
from tradestack.venues.kraken.user_messages import REPLY, ExecutionsParser, UserStreamParseError

log = structlog.get_logger("tradestack.kraken.user")


def subscribe_message(channel: str, token: str) -> bytes:
    params: dict[str, object] = {"channel": channel, "token": token}
    if channel == "executions":
        params.update({"snap_orders": True, "snap_trades": False})
    return msgspec.json.encode({"method": "subscribe", "params": params})


class KrakenUserStream:
    def __init__(
        self,
        ws_url: str,
        token_source: Callable[[], Awaitable[str]],
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
        on_balances: Callable[[Mapping[str, int]], None] | None = None,
        *,
        directory: OrderDirectory | None = None,
        ping_idle_s: float = 10.0,
        pong_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        retry_s: float = 1.0,
    ) -> None:
        """`token_source`: KrakenRestGateway.websocket_token (a signed REST call)."""
        self.token_source = token_source
        self.directory = directory if directory is not None else OrderDirectory()
        self.parser = ExecutionsParser(instruments, self.directory)
        self.on_report = on_report
        self.on_balances = on_balances
        self._on_reconnected = on_reconnected
        self.on_malformed = on_malformed
        self.retry_s = retry_s
        self.tokens: list[str] = []
        self.balances: dict[str, int] = {}
        self.last_error = ""
        self._ready = asyncio.Event()
        self._subscriber: asyncio.Task[None] | None = None
        self.session = WsSession(
            PrivateChannels(ws_url or PRIVATE_URL),
            [StreamSpec("executions"), StreamSpec("balances")],  # an idle account is silent
            self._on_frame,
            clock=clock,
            backoff=Backoff(backoff_initial_s, backoff_max_s, rng=random.Random()),
            config=SessionConfig("kraken-user", ping_idle_s=ping_idle_s, pong_timeout_s=pong_timeout_s),
            on_connected=self._connected,
            on_disconnected=self._disconnected,
            on_reconnected=self._reconnected,
        )

    @property
    def ready(self) -> bool:
        """Subscribed to `executions` on the live connection."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Until subscribed (bound it with `asyncio.timeout`)."""
        await self._ready.wait()

    async def start(self) -> None:
        await self.session.start()

    async def stop(self) -> None:
        await self._cancel_subscriber()
        await self.session.stop()
        self._ready.clear()

    def _connected(self) -> None:
        self._subscriber = asyncio.get_running_loop().create_task(self._subscribe(), name="kraken-user-token")

    async def _subscribe(self) -> None:
        while True:
            try:
                token = await self.token_source()
            except VenueError as error:
                self.last_error = f"GetWebSocketsToken: {error}"
                log.error("kraken websocket token refused", error=str(error)[:300])
                await asyncio.sleep(self.retry_s)
                continue
            self.tokens.append(token)
            sent = self.session.send(subscribe_message("executions", token))
            if sent:
                self.session.send(subscribe_message("balances", token))
            return

    async def _cancel_subscriber(self) -> None:
        task, self._subscriber = self._subscriber, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_frame(self, payload: bytes, ts_recv: int) -> None:
        channel = channel_of(payload)
        if channel == "executions":
            try:
                reports = self.parser.reports(payload)
            except UserStreamParseError as error:
                self.on_malformed("user_stream")
                log.warning(
                    "malformed kraken executions push dropped", error=str(error)[:300], sample=payload[:200]
                )
                return
            for report in reports:
                self.on_report(report, ts_recv)
            return
        if channel == "balances":
            try:
                totals = self.parser.balances(payload)
            except UserStreamParseError as error:
                self.on_malformed("user_stream")
                log.warning(
                    "malformed kraken balances push dropped", error=str(error)[:300], sample=payload[:200]
                )
                return
            self.balances.update(totals)
            if self.on_balances is not None:
                self.on_balances(totals)
            return
        if channel in ("heartbeat", "status"):
            return
        try:
            reply = REPLY(payload)
        except msgspec.DecodeError:
            self.on_malformed("user_stream")
            log.warning("malformed kraken private frame dropped", sample=payload[:200])
            return
        if reply.method == "subscribe" and reply.success:
            if reply.result is not None and reply.result.get("channel") == "executions":
                self._ready.set()
                log.info("kraken private stream ready")
        elif reply.success is False:
            self.last_error = str(reply.error)
            log.error("kraken private stream refused", method=reply.method, error=reply.error)
            retrying = self._subscriber is not None and not self._subscriber.done()
            if reply.method == "subscribe" and not self.ready and not retrying:  # one retry per token
                self._subscriber = asyncio.get_running_loop().create_task(
                    self._retry(), name="kraken-user-retry"
                )
        elif reply.method != "pong":
            self.on_malformed("user_stream")

    async def _retry(self) -> None:
        await asyncio.sleep(self.retry_s)
        await self._subscribe()

    def _disconnected(self, reason: DisconnectReason) -> None:
        self._ready.clear()
        task = self._subscriber
        if task is not None and not task.done():
            task.cancel()

    def _reconnected(self, event: Reconnected) -> None:
        # updates may have been missed while down: the app reconciles orders and fills by REST
        self._on_reconnected()
