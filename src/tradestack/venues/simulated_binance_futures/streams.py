"""fstream.binance.com over the shared hub: futures depth diffs chained by `pu`, aggTrade, bookTicker
with event times, and the user stream's ORDER_TRADE_UPDATE and ACCOUNT_UPDATE.

Connections, subscriptions, batching, pings and listen keys are the spot hub's; only the payloads
differ. A depth diff carries pu = the previous diff's u on the same stream, which is what a futures
client checks continuity by (a lost diff shows as pu != last u).
"""

from __future__ import annotations

from collections.abc import Sequence

from tradestack.domain.matching import Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import Execution, UserEvent
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.streams import StreamHub
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated.wire import Wire
from tradestack.venues.simulated_binance_futures.venue import AccountChange, FuturesSimVenue
from tradestack.venues.simulated_binance_futures.wire import FuturesWire


class FuturesStreamHub(StreamHub):
    def __init__(
        self,
        config: SimConfig,
        clock: Clock,
        venue: FuturesSimVenue,
        wire: FuturesWire,
        listen_keys: ListenKeys,
    ) -> None:
        super().__init__(config, clock, venue, Wire(venue.instruments), listen_keys)
        self.futures = venue
        self.futures_wire = wire
        for symbol, names in self._names.items():
            names["aggTrade"] = f"{symbol.lower()}@aggTrade"
        # (symbol, speed) -> u of the last diff sent (or lost) on that stream: the next one's pu
        self._last_u: dict[tuple[str, str], int] = {}

    def flush_books(self) -> None:
        """Close and send every symbol's depth windows now (both speeds) instead of on the timer."""
        self.flush_depth("fast")
        self.flush_depth("slow")

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        name = self._names[symbol]["aggTrade"]
        if name not in self._subscribers:
            return
        wire = self.futures_wire
        for trade in trades:  # one aggregate per match: the core reports each maker separately
            self._publish(
                name,
                {
                    "e": "aggTrade",
                    "E": time_ms,
                    "s": symbol,
                    "a": trade.trade_id,
                    "p": wire.price(symbol, trade.price),
                    "q": wire.qty(symbol, trade.size),
                    "f": trade.trade_id,
                    "l": trade.trade_id,
                    "T": time_ms,
                    "m": trade.buyer_is_maker,
                },
            )

    def flush_depth(self, speed: str) -> None:
        now = self.clock.now_ns() // 1_000_000
        for symbol, names in self._names.items():
            window = self._windows[(symbol, speed)]
            if window.first is None:
                continue
            previous = self._last_u.get((symbol, speed), window.first - 1)
            self._last_u[(symbol, speed)] = window.last
            if (symbol, speed) in self._skip:
                self._skip.discard((symbol, speed))
            elif names[speed] in self._subscribers:
                wire = self.futures_wire
                self._publish(
                    names[speed],
                    {
                        "e": "depthUpdate",
                        "E": now,
                        "T": now,
                        "s": symbol,
                        "U": window.first,
                        "u": window.last,
                        "pu": previous,
                        "b": wire.levels(symbol, sorted(window.bids.items(), reverse=True)),
                        "a": wire.levels(symbol, sorted(window.asks.items())),
                    },
                )
            window.reset()

    def user_events(self, events: Sequence[UserEvent]) -> None:
        keys = [key for key in self.listen_keys.active() if key in self._subscribers]
        if not keys:
            return
        now = self.clock.now_ns() // 1_000_000
        wire = self.futures_wire
        for event in events:
            if isinstance(event, Execution):
                body = wire.order_trade_update(event, now)
                if event.trade is not None:
                    realized = self.futures.realized.get((event.trade.symbol, event.trade.trade_id), 0)
                    body = wire.with_realized(body, realized)
            elif isinstance(event, AccountChange):
                body = wire.account_update(event, now)
            else:
                continue  # the spot core's plain balance events do not exist on futures
            for key in keys:
                self._publish(key, body)
