"""Binance spot endpoints. app/bootstrap picks one `Endpoints`; nothing else hard-codes a URL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Live spot. api1-api4 are alternates of the same cluster (the docs say they may perform better
# but can be less stable than api.binance.com).
SPOT_REST = "https://api.binance.com"
SPOT_REST_ALTERNATES = (
    "https://api1.binance.com",
    "https://api2.binance.com",
    "https://api3.binance.com",
    "https://api4.binance.com",
)
SPOT_STREAM = "wss://stream.binance.com:9443"
SPOT_STREAM_443 = "wss://stream.binance.com:443"
SPOT_WS_API = "wss://ws-api.binance.com:443/ws-api/v3"
# Public market data only (no keys, no orders).
SPOT_MARKET_DATA_REST = "https://data-api.binance.vision"
SPOT_MARKET_DATA_STREAM = "wss://data-stream.binance.vision"

# Spot testnet: separate keys from testnet.binance.vision, balances reset periodically.
TESTNET_REST = "https://testnet.binance.vision"
TESTNET_STREAM = "wss://stream.testnet.binance.vision"
TESTNET_WS_API = "wss://ws-api.testnet.binance.vision/ws-api/v3"

RAW_STREAM_PATH = "/ws"  # /ws/<stream>: one stream, payloads without an envelope
COMBINED_STREAM_PATH = "/stream"  # /stream?streams=a/b: payloads {"stream": ..., "data": ...}


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str
    stream: str
    ws_api: str


LIVE = Endpoints(rest=SPOT_REST, stream=SPOT_STREAM, ws_api=SPOT_WS_API)
TESTNET = Endpoints(rest=TESTNET_REST, stream=TESTNET_STREAM, ws_api=TESTNET_WS_API)


def combined_stream_url(stream_base: str, streams: Iterable[str]) -> str:
    """`wss://host/stream?streams=btcusdt@depth@100ms/btcusdt@trade` (stream names are lower case)."""
    return f"{stream_base}{COMBINED_STREAM_PATH}?streams={'/'.join(streams)}"


def raw_stream_url(stream_base: str) -> str:
    """The bare `/ws` endpoint, used with SUBSCRIBE frames."""
    return f"{stream_base}{RAW_STREAM_PATH}"
