"""The USD-M user data stream: the spot listen-key stream (venues/binance/user_stream.py) on the
futures gateway's /fapi/v1/listenKey, reading ORDER_TRADE_UPDATE and ACCOUNT_UPDATE."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import Clock
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance.user_stream import BinanceUserStream
from tradestack.venues.binance_futures.rest_gateway import BinanceFuturesRestGateway
from tradestack.venues.binance_futures.user_messages import FuturesUserStreamParser


class BinanceFuturesUserStream(BinanceUserStream):
    def __init__(
        self,
        ws_base: str,
        gateway: BinanceFuturesRestGateway,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        on_report: Callable[[OrderReport, int], None],
        on_balances: Callable[[Balances], None],
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None] = lambda reason: None,
    ) -> None:
        super().__init__(
            ws_base, gateway, instruments, clock, on_report, on_balances, on_reconnected, on_malformed
        )
        self.parser = FuturesUserStreamParser(instruments)
