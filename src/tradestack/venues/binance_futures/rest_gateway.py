"""Binance futures REST: order entry, account and positions, listen keys. USD-M (fapi.binance.com,
`api=USDM`, the default) or COIN-M (dapi.binance.com, `api=COINM`): same shapes, other paths.

The transport is the spot gateway's (venues/binance/rest_gateway.py), inherited: HMAC signing with
recvWindow and timestamp, the warm HTTP/1.1 order-entry fast path, the limiter fed by
X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-* headers, the server-time offset, and the error mapping
(4xx {"code","msg"} -> VenueRejected; 5xx, -1006, -1007 or a lost answer -> OutcomeUnknown; 429/418
-> RateLimited). What differs is here: the /fapi (/dapi) paths and weights, and futures' shapes.
The spot endpoint methods it inherits (`new_order`, `account`, `my_trades`, ...) name /api/v3 paths
and are not for this gateway: use the futures methods below.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import msgspec

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.ports import Clock
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import (
    BinanceRestGateway,
    Depth,
    ListenKey,
    RateLimitInfo,
    ServerTime,
    limits_from_exchange_info,
)

USDM_REST: Final = "https://fapi.binance.com"
USDM_STREAM: Final = "wss://fstream.binance.com"
USDM_TESTNET_REST: Final = "https://testnet.binancefuture.com"
USDM_TESTNET_STREAM: Final = "wss://fstream.binancefuture.com"
COINM_REST: Final = "https://dapi.binance.com"
COINM_STREAM: Final = "wss://dstream.binance.com"


@dataclass(frozen=True, slots=True)
class FuturesApi:
    """One Binance derivatives API's paths: USD-M (/fapi, linear) or COIN-M (/dapi, inverse)."""

    kind: InstrumentKind
    time: str
    ping: str
    depth: str
    exchange_info: str
    order: str
    all_open_orders: str
    open_orders: str
    user_trades: str
    balance: str
    position_risk: str
    listen_key: str


def _api(prefix: str, kind: InstrumentKind, account_version: str) -> FuturesApi:
    v1 = f"/{prefix}/v1"
    return FuturesApi(
        kind=kind,
        time=f"{v1}/time",
        ping=f"{v1}/ping",
        depth=f"{v1}/depth",
        exchange_info=f"{v1}/exchangeInfo",
        order=f"{v1}/order",
        all_open_orders=f"{v1}/allOpenOrders",
        open_orders=f"{v1}/openOrders",
        user_trades=f"{v1}/userTrades",
        balance=f"/{prefix}/{account_version}/balance",
        position_risk=f"/{prefix}/{account_version}/positionRisk",
        listen_key=f"{v1}/listenKey",
    )


USDM: Final = _api("fapi", InstrumentKind.LINEAR, "v2")  # balance and positionRisk are v2 on USD-M
COINM: Final = _api("dapi", InstrumentKind.INVERSE, "v1")

FuturesOrderType = Literal["LIMIT", "MARKET"]
FuturesTimeInForce = Literal["GTC", "IOC", "FOK", "GTX"]  # GTX: post-only, refused (-5022) if it would take

# --- wire types: USD-M's documented shapes, camelCase on the wire; unknown fields ignored -----------


class FuturesOrder(msgspec.Struct, frozen=True, rename="camel"):
    """POST/DELETE/GET /fapi/v1/order and each entry of GET /fapi/v1/openOrders."""

    order_id: int
    symbol: str
    status: str
    client_order_id: str
    price: str
    orig_qty: str
    executed_qty: str
    side: str
    type: str = "LIMIT"
    time_in_force: str = "GTC"
    avg_price: str = "0"
    cum_quote: str = "0"
    position_side: str = "BOTH"
    reduce_only: bool = False
    time: int = 0  # GET only
    update_time: int = 0


class FuturesTrade(msgspec.Struct, frozen=True, rename="camel"):
    """GET /fapi/v1/userTrades."""

    symbol: str
    id: int
    order_id: int
    side: str
    price: str
    qty: str
    commission: str
    commission_asset: str
    time: int
    realized_pnl: str = "0"
    quote_qty: str = "0"
    buyer: bool = False
    maker: bool = False
    position_side: str = "BOTH"


class FuturesBalance(msgspec.Struct, frozen=True, rename="camel"):
    """One asset of GET /fapi/v2/balance: `balance` is the wallet balance (no unrealised PnL)."""

    asset: str
    balance: str
    available_balance: str = "0"
    cross_wallet_balance: str = "0"


class PositionRisk(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of GET /fapi/v2/positionRisk: `position_amt` is signed (short < 0)."""

    symbol: str
    position_amt: str
    entry_price: str = "0"
    mark_price: str = "0"
    un_realized_profit: str = "0"
    position_side: str = "BOTH"
    update_time: int = 0


class FuturesFilter(msgspec.Struct, frozen=True, rename="camel"):
    filter_type: str
    tick_size: str = ""
    step_size: str = ""
    min_qty: str = ""
    notional: str = ""  # MIN_NOTIONAL on futures says `notional`, not spot's `minNotional`


class FuturesSymbol(msgspec.Struct, frozen=True, rename="camel"):
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    margin_asset: str = ""
    contract_type: str = ""  # PERPETUAL, CURRENT_QUARTER, ...
    contract_size: int = 0  # COIN-M: quote (USD) per contract, e.g. 100 for BTCUSD_PERP
    filters: list[FuturesFilter] = []

    def filter(self, filter_type: str) -> FuturesFilter | None:
        return next((f for f in self.filters if f.filter_type == filter_type), None)

    def instrument(self, venue: str, kind: InstrumentKind = InstrumentKind.LINEAR) -> Instrument:
        """A contract whose `base` is the position itself (position_asset), so that drift is measured
        on the signed position against positionRisk's positionAmt; `quote` is the margin asset (USDT
        on USD-M, the coin on COIN-M, where sizes are contracts)."""
        price, lot = self.filter("PRICE_FILTER"), self.filter("LOT_SIZE")
        if price is None or lot is None:
            raise ValueError(f"{self.symbol}: PRICE_FILTER and LOT_SIZE are required")
        notional = self.filter("MIN_NOTIONAL")
        steps = Instrument.from_steps(
            venue=venue,
            symbol=self.symbol,
            base=position_asset(self.symbol, self.contract_type),
            quote=self.margin_asset or self.quote_asset,
            tick_size=price.tick_size,
            step_size=lot.step_size,
            min_qty=lot.min_qty or "0",
            min_notional=notional.notional if notional is not None and notional.notional else "0",
        )
        contract_size = self.contract_size if kind is InstrumentKind.INVERSE else 0
        return replace(steps, kind=kind, contract_size=contract_size)


class FuturesExchangeInfo(msgspec.Struct, frozen=True, rename="camel"):
    server_time: int
    rate_limits: list[RateLimitInfo]
    symbols: list[FuturesSymbol]
    timezone: str = "UTC"


class Acknowledged(msgspec.Struct, frozen=True):
    """DELETE /fapi/v1/allOpenOrders: {"code": 200, "msg": "The operation of cancel all ... done."}."""

    code: int
    msg: str


class _Empty(msgspec.Struct, frozen=True):
    pass


def position_asset(symbol: str, contract_type: str = "PERPETUAL") -> str:
    """The name a contract's position goes by among balances: USD-M "BTCUSDT" perpetual ->
    "BTCUSDT-PERP"; symbols with a suffix ("BTCUSDT_250627", COIN-M "BTCUSD_PERP") are unique already."""
    if "_" in symbol or contract_type not in ("PERPETUAL", ""):
        return symbol
    return f"{symbol}-PERP"


_ORDER = msgspec.json.Decoder(FuturesOrder)
_ORDERS = msgspec.json.Decoder(list[FuturesOrder])
_TRADES = msgspec.json.Decoder(list[FuturesTrade])
_BALANCES = msgspec.json.Decoder(list[FuturesBalance])
_POSITIONS = msgspec.json.Decoder(list[PositionRisk])
_EXCHANGE_INFO = msgspec.json.Decoder(FuturesExchangeInfo)
_ACKNOWLEDGED = msgspec.json.Decoder(Acknowledged)
_DEPTH = msgspec.json.Decoder(Depth)
_LISTEN_KEY = msgspec.json.Decoder(ListenKey)
_EMPTY = msgspec.json.Decoder(_Empty)
_SERVER_TIME = msgspec.json.Decoder(ServerTime)

# USD-M's published limits (exchangeInfo rateLimits); replaced from futures_exchange_info() at start
DEFAULT_FUTURES_LIMITS: Final = limits_from_exchange_info(
    [
        RateLimitInfo("REQUEST_WEIGHT", "MINUTE", 1, 2400),
        RateLimitInfo("ORDERS", "MINUTE", 1, 1200),
        RateLimitInfo("ORDERS", "SECOND", 10, 300),
    ]
)


def futures_depth_weight(limit: int) -> int:
    if limit < 100:
        return 2
    if limit < 500:
        return 5
    if limit < 1000:
        return 10
    return 20


def _order_params(
    symbol: str,
    side: Side,
    order_type: FuturesOrderType,
    quantity_text: str,
    price_text: str | None,
    time_in_force: FuturesTimeInForce | None,
    client_order_id: str,
) -> list[tuple[str, str]]:
    params = [("symbol", symbol), ("side", side.value), ("type", order_type)]
    if time_in_force is not None:
        params.append(("timeInForce", time_in_force))
    params.append(("quantity", quantity_text))
    if price_text is not None:
        params.append(("price", price_text))
    params.append(("newClientOrderId", client_order_id))
    return params


class BinanceFuturesRestGateway(BinanceRestGateway):
    """Signed /fapi (or /dapi) requests on the spot gateway's transport.

    >>> gateway = BinanceFuturesRestGateway(HmacSigner(key, secret), clock=SystemClock(), base_url=USDM_REST)
    >>> async with gateway:
    ...     await gateway.sync_time()
    ...     order = await gateway.place_order("BTCUSDT", Side.BUY, "LIMIT", "0.010", "50000.0", "GTX", "c-1")
    """

    def __init__(
        self,
        signer: HmacSigner,
        *,
        clock: Clock,
        base_url: str = USDM_REST,
        limiter: RateLimiter | None = None,
        api: FuturesApi = USDM,
        **options: Any,  # the spot gateway's: timeouts, on_timing, order_connections, recv_window_ms
    ) -> None:
        limiter = limiter if limiter is not None else RateLimiter(DEFAULT_FUTURES_LIMITS)
        super().__init__(signer, clock=clock, base_url=base_url, limiter=limiter, **options)
        self.api = api

    # --- time, market data and listen keys: the spot methods on /fapi paths -----------------------

    async def server_time(self) -> int:
        """GET /fapi/v1/time: the venue's time in milliseconds."""
        return (await self._request("GET", self.api.time, [], weight=1, decoder=_SERVER_TIME)).server_time

    async def ping(self) -> None:
        await self._request("GET", self.api.ping, [], weight=1, decoder=_EMPTY)

    async def depth(self, symbol: str, limit: int = 1000) -> Depth:
        """GET /fapi/v1/depth (limit 5, 10, 20, 50, 100, 500 or 1000)."""
        params = [("symbol", symbol), ("limit", str(limit))]
        return await self._request(
            "GET", self.api.depth, params, weight=futures_depth_weight(limit), decoder=_DEPTH
        )

    async def create_listen_key(self) -> str:
        """POST /fapi/v1/listenKey (the account's one key: an active one is returned and extended)."""
        result = await self._request(
            "POST", self.api.listen_key, [], weight=1, api_key=True, decoder=_LISTEN_KEY
        )
        return result.listen_key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        await self._request("PUT", self.api.listen_key, [], weight=1, api_key=True, decoder=_LISTEN_KEY)

    async def close_listen_key(self, listen_key: str) -> None:
        await self._request("DELETE", self.api.listen_key, [], weight=1, api_key=True, decoder=_EMPTY)

    def warm(self, symbol: str = "BTCUSDT") -> None:
        """The spot gateway's cache warming (limiter decision, signing, serialization; nothing
        counted, written or reported) on a representative futures order."""
        pool = self._pool
        if pool is None:
            return
        venue_now = self.venue_time_ns()
        self.limiter.decide(0, venue_now, 1)  # rolls windows forward at most, as any request would
        params = _order_params(symbol, Side.BUY, "LIMIT", "0.001", "1.0", "GTC", "warm-0")
        params += [("recvWindow", self._recv_window), ("timestamp", str(venue_now // 1_000_000))]
        query = self._signer.signed_query(params)
        pool.warm("POST", f"{self._base_path}{self.api.order}?{query}", self._key_form_block)

    # --- futures endpoints -------------------------------------------------------------------------

    async def futures_exchange_info(self) -> FuturesExchangeInfo:
        """GET /fapi/v1/exchangeInfo (weight 1): every contract, and the account's rate limits."""
        return await self._request("GET", self.api.exchange_info, [], weight=1, decoder=_EXCHANGE_INFO)

    async def place_order(
        self,
        symbol: str,
        side: Side,
        order_type: FuturesOrderType,
        quantity_text: str,
        price_text: str | None,
        time_in_force: FuturesTimeInForce | None,
        client_order_id: str,
    ) -> FuturesOrder:
        """POST /fapi/v1/order (0 IP weight, 1 order). Never retried: on OutcomeUnknown, query it."""
        params = _order_params(
            symbol, side, order_type, quantity_text, price_text, time_in_force, client_order_id
        )
        return await self._request(
            "POST",
            self.api.order,
            params,
            weight=0,
            orders=1,
            signed=True,
            client_order_id=client_order_id,
            decoder=_ORDER,
        )

    def place_order_now(
        self,
        symbol: str,
        side: Side,
        order_type: FuturesOrderType,
        quantity_text: str,
        price_text: str | None,
        time_in_force: FuturesTimeInForce | None,
        client_order_id: str,
    ) -> asyncio.Future[FuturesOrder]:
        """POST /fapi/v1/order written on a warm connection before returning (spot's new_order_now)."""
        params = _order_params(
            symbol, side, order_type, quantity_text, price_text, time_in_force, client_order_id
        )
        return self._request_now(
            "POST",
            self.api.order,
            params,
            weight=0,
            orders=1,
            client_order_id=client_order_id,
            decoder=_ORDER,
        )

    async def cancel_by_client_id(self, symbol: str, client_order_id: str) -> FuturesOrder:
        """DELETE /fapi/v1/order by our client order id (-2011: unknown or no longer open)."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self._request(
            "DELETE",
            self.api.order,
            params,
            weight=1,
            signed=True,
            client_order_id=client_order_id,
            decoder=_ORDER,
        )

    def cancel_by_client_id_now(self, symbol: str, client_order_id: str) -> asyncio.Future[FuturesOrder]:
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return self._request_now(
            "DELETE", self.api.order, params, weight=1, client_order_id=client_order_id, decoder=_ORDER
        )

    async def cancel_all_orders(self, symbol: str) -> Acknowledged:
        """DELETE /fapi/v1/allOpenOrders: answers code 200 whether or not anything was open."""
        return await self._request(
            "DELETE",
            self.api.all_open_orders,
            [("symbol", symbol)],
            weight=1,
            signed=True,
            decoder=_ACKNOWLEDGED,
        )

    async def order_by_client_id(self, symbol: str, client_order_id: str) -> FuturesOrder:
        """GET /fapi/v1/order (-2013: the order does not exist)."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self._request(
            "GET",
            self.api.order,
            params,
            weight=1,
            signed=True,
            client_order_id=client_order_id,
            decoder=_ORDER,
        )

    async def order_by_id(self, symbol: str, order_id: int) -> FuturesOrder:
        params = [("symbol", symbol), ("orderId", str(order_id))]
        return await self._request("GET", self.api.order, params, weight=1, signed=True, decoder=_ORDER)

    async def open_orders_of(self, symbol: str) -> list[FuturesOrder]:
        """GET /fapi/v1/openOrders for one symbol (weight 1; 40 for all)."""
        return await self._request(
            "GET", self.api.open_orders, [("symbol", symbol)], weight=1, signed=True, decoder=_ORDERS
        )

    async def user_trades(
        self, symbol: str, from_id: int | None = None, limit: int = 500
    ) -> list[FuturesTrade]:
        """GET /fapi/v1/userTrades (weight 5): from trade id `from_id` on, else the latest."""
        params = [("symbol", symbol)]
        if from_id is not None:
            params.append(("fromId", str(from_id)))
        params.append(("limit", str(limit)))
        return await self._request(
            "GET", self.api.user_trades, params, weight=5, signed=True, decoder=_TRADES
        )

    async def futures_balances(self) -> list[FuturesBalance]:
        """GET /fapi/v2/balance (weight 5)."""
        return await self._request("GET", self.api.balance, [], weight=5, signed=True, decoder=_BALANCES)

    async def position_risk(self, symbol: str | None = None) -> list[PositionRisk]:
        """GET /fapi/v2/positionRisk (weight 5): one-way positions, signed."""
        params = [("symbol", symbol)] if symbol is not None else []
        return await self._request(
            "GET", self.api.position_risk, params, weight=5, signed=True, decoder=_POSITIONS
        )
