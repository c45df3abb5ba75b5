"""Binance API-key restrictions: GET /sapi/v1/account/apiRestrictions (USER_DATA, weight 1).

Start-up only, never on the order path, so it uses its own short-lived aiohttp session and signs with
the gateway's `HmacSigner` (the exact query string sent is the signed payload). The answer carries
the attributes security.key_permissions checks (`can_withdraw`, `can_trade`, ...).
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import msgspec

from tradestack.venues._shared.errors import NotSent, VenueRejected
from tradestack.venues.binance.auth import HmacSigner

PATH = "/sapi/v1/account/apiRestrictions"
_MS = 1_000_000


class ApiRestrictions(msgspec.Struct, frozen=True, rename="camel"):
    ip_restrict: bool
    enable_withdrawals: bool
    enable_reading: bool = False
    enable_spot_and_margin_trading: bool = False
    enable_internal_transfer: bool = False
    permits_universal_transfer: bool = False
    enable_margin: bool = False
    enable_futures: bool = False
    enable_vanilla_options: bool = False
    enable_portfolio_margin_trading: bool = False
    create_time: int = 0
    trading_authority_expiration_time: int = 0

    @property
    def can_withdraw(self) -> bool:
        return self.enable_withdrawals

    @property
    def can_trade(self) -> bool:
        return self.enable_spot_and_margin_trading

    @property
    def can_transfer(self) -> bool:
        return self.enable_internal_transfer or self.permits_universal_transfer

    @property
    def ip_restricted(self) -> bool:
        return self.ip_restrict


_DECODER = msgspec.json.Decoder(ApiRestrictions)


def parse_api_restrictions(body: bytes) -> ApiRestrictions:
    return _DECODER.decode(body)


class BinanceKeyPermissions:
    """`KeyRestrictionsSource` for Binance. `venue_time_ns`: the gateway's corrected clock."""

    def __init__(
        self,
        signer: HmacSigner,
        base_url: str,
        venue_time_ns: Callable[[], int],
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
    ) -> None:
        self._signer = signer
        self._base_url = base_url.rstrip("/")
        self._venue_time_ns = venue_time_ns
        self._recv_window = str(recv_window_ms)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def key_restrictions(self) -> ApiRestrictions:
        params = [("recvWindow", self._recv_window), ("timestamp", str(self._venue_time_ns() // _MS))]
        url = f"{self._base_url}{PATH}?{self._signer.signed_query(params)}"
        headers = {"X-MBX-APIKEY": self._signer.api_key}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(url, headers=headers) as response,
            ):
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise NotSent(f"GET {PATH}: {type(error).__name__}") from None
        if status != 200:
            try:
                error_body = msgspec.json.decode(body)
                code = int(error_body.get("code", 0)) if isinstance(error_body, dict) else 0
                msg = str(error_body.get("msg", "")) if isinstance(error_body, dict) else ""
            except (msgspec.DecodeError, ValueError):
                code, msg = 0, body[:200].decode(errors="replace")
            raise VenueRejected(code, msg, status)
        return parse_api_restrictions(body)
