"""Binance USD-M futures (`binance-futures`) as a `VenueConnector`: signed /fapi REST on the spot
gateway's warm connections, the `pu`-chained depth feed, the /fapi listen-key user stream, and the key
check through apiRestrictions (which lives on the spot host, api.binance.com).

Each contract trades as a linear instrument whose `base` is its position ("BTCUSDT-PERP"): drift is
the engine's signed position against positionRisk's positionAmt (docs/venues/binance.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tradestack.app.venue_binance import BinanceConnector
from tradestack.app.venue_connector import VenueTrading
from tradestack.domain.instruments import Instrument
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues.binance.key_permissions import ApiRestrictions, BinanceKeyPermissions
from tradestack.venues.binance.rest_gateway import limits_from_exchange_info
from tradestack.venues.binance.urls import SPOT_REST
from tradestack.venues.binance_futures.feed import BinanceFuturesMarketFeed
from tradestack.venues.binance_futures.rest_gateway import USDM, BinanceFuturesRestGateway, FuturesApi
from tradestack.venues.binance_futures.trading import BinanceFuturesTrading
from tradestack.venues.binance_futures.user_stream import BinanceFuturesUserStream

NAME = "binance-futures"
_LIVE_FUTURES_HOSTS = ("fapi.binance.com", "dapi.binance.com")


@dataclass(frozen=True, slots=True)
class FuturesKeyRestrictions:
    """apiRestrictions read for a futures key: it must trade futures (enableFutures), not spot."""

    restrictions: ApiRestrictions

    @property
    def can_withdraw(self) -> bool:
        return self.restrictions.can_withdraw

    @property
    def can_trade(self) -> bool:
        return self.restrictions.enable_futures

    @property
    def can_transfer(self) -> bool:
        return self.restrictions.can_transfer

    @property
    def ip_restricted(self) -> bool:
        return self.restrictions.ip_restricted


class _KeySource:
    def __init__(self, permissions: BinanceKeyPermissions) -> None:
        self.permissions = permissions

    async def key_restrictions(self) -> FuturesKeyRestrictions:
        return FuturesKeyRestrictions(await self.permissions.key_restrictions())


def key_check_url(rest_url: str) -> str:
    """Where apiRestrictions is asked: the spot host for live futures, else the same host (a simulator
    or a proxy serving both)."""
    return SPOT_REST if urlsplit(rest_url).hostname in _LIVE_FUTURES_HOSTS else rest_url


class BinanceFuturesConnector(BinanceConnector):
    name = NAME
    api: FuturesApi = USDM  # COIN-M (app/venue_binance_coinm.py) is this over /dapi
    pushes_balances = True  # ACCOUNT_UPDATE: wallet balances and positions
    feed_type = BinanceFuturesMarketFeed
    user_stream_type = BinanceFuturesUserStream
    gateway: BinanceFuturesRestGateway

    def _gateway(self, rest_url: str) -> BinanceFuturesRestGateway:
        return BinanceFuturesRestGateway(
            self._signer, clock=self.clock, base_url=rest_url, on_timing=self._on_timing, api=self.api
        )

    async def check_key(self, policy: KeyPolicy) -> None:
        permissions = BinanceKeyPermissions(
            self._signer, key_check_url(self.endpoints.rest_url), self.gateway.venue_time_ns
        )
        await enforce_key_policy(_KeySource(permissions), policy, self.name)

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        info = await self.gateway.futures_exchange_info()
        self.gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
        return {
            s.symbol: s.instrument(self.name, self.api.kind)
            for s in info.symbols
            if s.symbol in symbols and s.status == "TRADING"
        }

    def trading(self, instruments: Mapping[str, Instrument]) -> VenueTrading:
        return BinanceFuturesTrading(self.gateway, instruments)
