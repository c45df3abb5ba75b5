"""Settings of the simulated Binance spot exchange: symbols, balances, limits, streams and flow.

Amounts are exact decimal strings, as Binance writes them; they become integers once, at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradestack.domain.instruments import Instrument
from tradestack.venues.simulated.faults import OrderFaults


@dataclass(frozen=True, slots=True)
class SymbolConfig:
    """One spot symbol: Binance's filters plus where the synthetic flow starts and how big it trades."""

    symbol: str
    base: str
    quote: str
    tick_size: str  # PRICE_FILTER tickSize
    step_size: str  # LOT_SIZE stepSize
    min_qty: str  # LOT_SIZE minQty
    min_notional: str = "5"  # NOTIONAL minNotional
    max_qty: str = "9000"
    min_price: str = ""  # PRICE_FILTER minPrice; "" means one tick
    max_price: str = "1000000"
    start_price: str = "100"
    flow_size_min: str = ""  # one background order's size range; "" means 10 and 500 lots
    flow_size_max: str = ""
    flow_depth_ticks: int = 200  # how far from the touch the deepest background level sits
    flow_volatility_bps: float = 0.3  # standard deviation of the fair value per flow step, in bps

    def instrument(self) -> Instrument:
        return Instrument.from_steps(
            "simulated",
            self.symbol,
            self.base,
            self.quote,
            self.tick_size,
            self.step_size,
            self.min_qty,
            self.min_notional,
        )


def default_symbols() -> tuple[SymbolConfig, ...]:
    """BTCUSDT and ETHUSDT with Binance's filters (tick 0.01; steps 0.00001 and 0.0001)."""
    return (
        SymbolConfig(
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            tick_size="0.01",
            step_size="0.00001",
            min_qty="0.00001",
            start_price="60000",
            flow_size_min="0.001",
            flow_size_max="0.25",
            flow_depth_ticks=2000,
        ),
        SymbolConfig(
            symbol="ETHUSDT",
            base="ETH",
            quote="USDT",
            tick_size="0.01",
            step_size="0.0001",
            min_qty="0.0001",
            start_price="3000",
            flow_size_min="0.01",
            flow_size_max="4",
            flow_depth_ticks=300,
        ),
    )


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """The seeded synthetic order flow (SimFlow). interval_ms = 0 means: only when stepped by hand."""

    enabled: bool = True
    seed: int = 1
    interval_ms: int = 100
    levels: int = 20  # background levels per side
    taker_probability: float = 0.5  # chance per step and symbol of one market order at the touch
    taker_size_min: float = 0.3  # a taker's size, as a multiple of the size at the touch
    taker_size_max: float = 1.6
    noise_probability: float = 0.1  # chance per step and level that its background order is replaced
    reversion: float = 0.1  # per step: how fast the fair value's short-term wiggle reverts
    trend_share: float = 0.1  # the slow anchor's step size, as a share of the wiggle's
    mean_reversion: float = 0.001  # per step: pull of the anchor back toward start_price


@dataclass(frozen=True, slots=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    symbols: tuple[SymbolConfig, ...] = field(default_factory=default_symbols)
    balances: tuple[tuple[str, str], ...] = (("BTC", "1"), ("ETH", "10"), ("USDT", "100000"))
    maker_commission: str = "0"  # a rate, e.g. "0.001" is 10 bps; charged in the quote asset
    taker_commission: str = "0"
    # request weight per minute (Binance publishes 6000); orders per 10 s and per day
    weight_limit_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    max_open_orders_per_symbol: int = 200  # MAX_NUM_ORDERS
    # WebSocket: Binance pings every 20 s and drops a connection that has not answered within a minute
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    max_incoming_messages_per_second: int = 5  # Binance's limit; 0 disables it
    max_streams_per_connection: int = 1024
    max_write_buffer_bytes: int = 16 * 1024 * 1024  # a slower consumer is disconnected
    depth_fast_ms: int = 100  # <symbol>@depth@100ms
    depth_slow_ms: int = 1000  # <symbol>@depth
    listen_key_ttl_s: float = 3600.0  # a listen key expires 60 minutes after its last keepalive
    flow: FlowConfig = field(default_factory=FlowConfig)
    id_seed: int = 7  # generated client order ids and listen keys (deterministic)
    order_faults: OrderFaults | None = None  # seeded order-entry faults (faults.py); None: none
