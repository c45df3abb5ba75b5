"""Every venue decoder, fuzzed: only its typed decode error or valid values, never another exception.

One table (`DECODERS`) names each decoder of each venue — WebSocket market data, the Binance user
stream, REST response bodies — with valid seed messages, the typed error it may raise (market parsers
raise nothing: their typed failure is one `Malformed` event), a validity check for what it returns and,
for stateful decoders, a snapshot of the state a rejected message must leave untouched.

Three inputs per decoder (hypothesis strategies below):
* `arbitrary`: any bytes (JSON-ish fragments mixed in, so the parsers get past the first byte);
* `structured`: a valid seed with 1-4 mutations at random places — a value replaced by a wrong type or
  an absurd value (NaN, 1e400, -1, 0, 2**64, invalid UTF-8, year 1970/3000, negative times, huge
  strings), a field removed, a field added;
* `extra fields`: a valid seed with unknown fields added anywhere: venues add fields, so the result
  must equal the seed's.

Used by tests/reliability/test_decoder_fuzz.py (moderate counts) and scripts/fuzz_decoders.py (full).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import strategies as st

from tradestack.domain.events import BestBidAsk, BookDelta, BookSnapshot, Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import ManualClock
from tradestack.venues._shared.errors import VenueError
from tradestack.venues.binance import rest_gateway as binance_rest
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.book_sync import BinanceBookSync
from tradestack.venues.binance.feed import snapshot_from_depth
from tradestack.venues.binance.key_permissions import parse_api_restrictions
from tradestack.venues.binance.parse import BinanceMarketParser, MalformedMessage
from tradestack.venues.binance.user_messages import Balances, UserStreamParseError, UserStreamParser
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser, BybitParseError
from tradestack.venues.bybit.parse import instruments_from_rest as bybit_instruments
from tradestack.venues.bybit.parse_v2 import BybitV2MarketParser, instruments_from_v2_symbols
from tradestack.venues.bybit.user_messages import UserParser as BybitUserParser
from tradestack.venues.bybit.user_messages import UserStreamParseError as BybitUserStreamParseError
from tradestack.venues.coinbase.messages import CoinbaseBookUpdate
from tradestack.venues.coinbase.parse import CoinbaseMarketParser, CoinbaseParseError, products_from_rest
from tradestack.venues.coinbase.user_messages import UserParser as CoinbaseUserParser
from tradestack.venues.coinbase.user_messages import UserStreamParseError as CoinbaseUserStreamParseError
from tradestack.venues.kraken.client_ids import OrderDirectory
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import KrakenMarketParser, KrakenParseError, instruments_from_asset_pairs
from tradestack.venues.kraken.user_messages import ExecutionsParser
from tradestack.venues.kraken.user_messages import UserStreamParseError as KrakenUserStreamParseError
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser, OkxParseError
from tradestack.venues.okx.parse import instruments_from_rest as okx_instruments
from tradestack.venues.okx.user_messages import OrdersParser as OkxOrdersParser
from tradestack.venues.okx.user_messages import UserStreamParseError as OkxUserStreamParseError

MAX_NS = 2**63  # every ts_event must fit a signed 64-bit integer of nanoseconds


class Violation(AssertionError):
    """A decoder broke its contract: what it returned is not a valid value."""


# --- JSON with raw tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written as is: NaN, 1e400, a number's exact text."""

    text: str


@dataclass(frozen=True)
class BadUtf8:
    """A JSON string whose bytes are not UTF-8."""

    data: bytes


def loads(data: bytes) -> Any:
    """Seed JSON -> Python values, every number kept as its exact text (`Raw`)."""
    return json.loads(data, parse_float=Raw, parse_int=Raw, parse_constant=Raw)


def dumps(value: Any) -> bytes:
    if isinstance(value, Raw):
        return value.text.encode()
    if isinstance(value, BadUtf8):
        return b'"' + value.data + b'"'
    if isinstance(value, dict):
        return b"{" + b",".join(dumps(key) + b":" + dumps(item) for key, item in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dumps(item) for item in value) + b"]"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value).encode()  # nan / inf: not JSON, which is the point
    return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*prefix, key))
            out.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.append((*prefix, index))
            out.extend(paths(item, (*prefix, index)))
    return out


def containers(value: Any, prefix: tuple[Any, ...] = (), maps: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every object in a JSON value, the root included, where an extra field can go: not the values of
    keys named in `maps` (maps of entries, e.g. Kraken's pairs by name, rather than fields)."""
    is_map = bool(prefix) and prefix[-1] in maps
    out: list[tuple[Any, ...]] = [prefix] if isinstance(value, dict) and not is_map else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(containers(item, (*prefix, key), maps))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(containers(item, (*prefix, index), maps))
    return out


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# The malformed table, as values: what a broken or hostile venue could put in any field.
YEAR_3000_MS = 32_503_680_000_000
BAD_VALUES: tuple[Any, ...] = (
    Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e400"), Raw("-1e400"), Raw("1e-400"),
    Raw("-1"), Raw("0"), Raw("-0"), Raw("0.0"), Raw("1.5"), Raw("-0.5"), Raw("1e3"),
    Raw(str(2**63)), Raw(str(2**64)), Raw(str(-(2**63) - 1)), Raw(str(2**200)),
    Raw(str(YEAR_3000_MS)), Raw(str(YEAR_3000_MS * 1000)), Raw("-1000"), Raw("1"),
    "NaN", "nan", "Infinity", "inf", "1e400", "1E+400", "-1", "-0.5", "0", "0.0", "0.00000000", "",
    " 1", "1 ", "1_000", "+1", "0x10", "1e3", ".5", "5.", "1..2", "１２", "١٢", "1,5", "\u0000", "\\",
    "9" * 400, "0." + "0" * 60 + "1", "x" * 5000,
    "1970-01-01T00:00:00Z", "3000-01-01T00:00:00Z", "0000-00-00T00:00:00Z", "2023-02-30T00:00:00Z",
    "9999-12-31T23:59:60.999999999Z", "-1",
    BadUtf8(b"\xff\xfe"), BadUtf8(b"\xc3\x28"), BadUtf8(b"\xed\xa0\x80"),
    True, False, None, [], {}, [[]], [None], {"a": Raw("1")}, ["1", "2", "3"],
)  # fmt: skip
NOT_JSON = (Raw("NaN"), Raw("Infinity"), Raw("-Infinity"))
VALID_JSON_VALUES = tuple(
    value for value in BAD_VALUES if value not in NOT_JSON and not isinstance(value, BadUtf8)
)


def bad_values() -> st.SearchStrategy[Any]:
    return st.sampled_from(BAD_VALUES).map(_copy)  # a copy: mutations must not reach the table


@st.composite
def structured(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A valid seed with 1-4 mutations: wrong type or absurd value, a field removed or added."""
    value = loads(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        places = paths(value)
        kind = draw(st.sampled_from(("replace", "replace", "replace", "remove", "add", "whole")))
        if kind == "whole" or not places:
            value = draw(bad_values())
            continue
        if kind == "add":
            spots = containers(value)
            if spots:
                spot = _at(value, draw(st.sampled_from(spots)))
                spot[draw(st.sampled_from(("zz_new", "e", "E", "data", "stream", "code", "id")))] = draw(
                    bad_values()
                )
            continue
        path = draw(st.sampled_from(places))
        parent = _at(value, path[:-1])
        if kind == "remove":
            del parent[path[-1]]
            continue
        replacement = draw(
            st.one_of(
                bad_values(),
                st.integers(-(2**70), 2**70).map(lambda number: Raw(str(number))),
                st.floats(allow_nan=False, allow_infinity=False).map(lambda number: Raw(repr(number))),
                st.text(max_size=12),
            )
        )
        parent[path[-1]] = replacement
    return dumps(value)


@st.composite
def with_extra_fields(
    draw: st.DrawFn, seeds: Sequence[bytes], maps: tuple[str, ...] = ()
) -> tuple[bytes, bytes]:
    """(seed, the seed with 1-3 unknown fields, of any valid JSON value, added to any of its objects)."""
    seed = draw(st.sampled_from(seeds))
    value = loads(seed)
    spots = containers(value, maps=maps)
    for number in range(draw(st.integers(1, 3))):
        if not spots:
            break
        spot = _at(value, draw(st.sampled_from(spots)))
        spot[f"newField{number}"] = draw(st.sampled_from(VALID_JSON_VALUES).map(_copy))
    return seed, dumps(value)


JSONISH = st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\u", b"1e400", b"-", b"NaN", b"\xff"])


def arbitrary(seeds: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Any bytes; also a seed cut short or with bytes spliced in, so parsers get past the first byte."""
    spliced = st.tuples(st.sampled_from(seeds), st.integers(0, 10_000), st.binary(max_size=16)).map(
        lambda cut: cut[0][: cut[1] % (len(cut[0]) + 1)] + cut[2] + cut[0][cut[1] % (len(cut[0]) + 1) :]
    )
    return st.one_of(
        st.binary(max_size=300),
        st.lists(st.one_of(JSONISH, st.binary(max_size=4)), max_size=40).map(b"".join),
        spliced,
    )


# --- validity of what a decoder returns ----------------------------------------------------------------


def _check(condition: bool, what: str, value: object) -> None:
    if not condition:
        raise Violation(f"{what}: {value!r}"[:400])


def _int(value: object) -> bool:
    return type(value) is int


def _levels(levels: Sequence[Sequence[object]], what: object) -> None:
    for level in levels:
        price, size = level[0], level[1]
        _check(_int(price) and _int(size), "a level is not two integers", what)
        assert isinstance(price, int) and isinstance(size, int)
        _check(price >= 0, "a level price is negative", what)  # 0: odd, but what the venue sent
        _check(size >= 0, "a level size is negative", what)  # 0 removes (a snapshot's load skips it)


def _time(ns: object, what: object) -> None:
    _check(_int(ns), "a time is not an integer", what)
    assert isinstance(ns, int)
    _check(0 <= ns < MAX_NS, "a time is negative or beyond int64 nanoseconds", what)


def valid_event(event: object) -> None:
    """One market event: exact integers, positive prices, sizes >= 0, times within int64 ns."""
    if isinstance(event, Malformed):
        _check(isinstance(event.reason, str) and bool(event.reason), "Malformed without a reason", event)
        _check(isinstance(event.sample, bytes) and len(event.sample) <= 200, "Malformed sample", event)
        return
    if isinstance(event, BookDelta):
        _levels(event.bids, event)
        _levels(event.asks, event)
        _check(0 <= event.first_update_id <= event.final_update_id, "update ids", event)
        _time(event.ts_event, event)
    elif isinstance(event, BookSnapshot):
        _levels(event.bids, event)
        _levels(event.asks, event)
        _check(event.last_update_id >= 0, "update id", event)
        _time(event.ts_event, event)
    elif isinstance(event, BestBidAsk):
        for value in (event.bid_price, event.ask_price):
            _check(_int(value) and value > 0, "a best price is not a positive integer", event)
        for value in (event.bid_size, event.ask_size):
            _check(_int(value) and value >= 0, "a best size is not an integer >= 0", event)
        _check(_int(event.update_id) and event.update_id >= 0, "update id", event)
    elif isinstance(event, TradePrint):
        _check(_int(event.price) and event.price > 0, "a trade price is not a positive integer", event)
        _check(_int(event.size) and event.size > 0, "a trade size is not a positive integer", event)
        _check(_int(event.trade_id) and event.trade_id >= 0, "trade id", event)
        _time(event.ts_event, event)
    elif isinstance(event, OkxBookUpdate | KrakenBookUpdate | BybitBookUpdate | CoinbaseBookUpdate):
        _levels(event.bids, event)
        _levels(event.asks, event)
        _time(event.ts_event, event)
    else:
        raise Violation(f"not a market event: {event!r}"[:400])


def valid_events(events: object) -> None:
    _check(isinstance(events, list), "parse did not return a list", events)
    assert isinstance(events, list)
    malformed = [event for event in events if isinstance(event, Malformed)]
    _check(not malformed or len(events) == 1, "a Malformed beside other events", events)
    for event in events:
        valid_event(event)


def valid_user_event(result: object, rebates: bool = False) -> None:
    if result is None:
        return
    if isinstance(result, Balances):
        for asset, total in result.totals.items():
            _check(isinstance(asset, str) and _int(total) and total >= 0, "a balance", result)
        _time(result.ts_event, result)
        return
    _check(isinstance(result, OrderReport), "not an OrderReport, Balances or None", result)
    assert isinstance(result, OrderReport)
    _check(_int(result.filled_total) and result.filled_total >= 0, "filled total", result)
    _time(result.ts_event, result)
    fill = result.fill
    if fill is not None:
        _check(_int(fill.price) and fill.price > 0, "a fill price is not positive", result)
        _check(_int(fill.size) and fill.size > 0, "a fill size is not positive", result)
        # a maker rebate is a negative fee at OKX and Bybit; Binance and Kraken only charge
        _check(_int(fill.fee) and (rebates or fill.fee >= 0), "a fill fee is negative", result)
        _time(fill.ts_event, result)


def valid_anything(result: object) -> None:
    """REST bodies: a decoded Struct; its strings are checked where they are converted."""


def valid_instruments(result: object) -> None:
    _check(isinstance(result, dict), "not a dict of instruments", result)
    assert isinstance(result, dict)
    for instrument in result.values():
        _check(isinstance(instrument, Instrument), "not an Instrument", instrument)
        _check(0 <= instrument.price_scale < 40 and 0 <= instrument.size_scale < 40, "scales", instrument)
        _check(instrument.tick > 0 and instrument.lot > 0, "tick and lot must be positive", instrument)
        _check(instrument.min_size >= 0 and instrument.min_notional >= 0, "minimums", instrument)


def kraken_user(data: bytes) -> object:
    """Kraken's ws-auth v2 `balances` -> totals, `executions` -> OrderReports."""
    parser = ExecutionsParser(KRAKEN_INSTRUMENTS, OrderDirectory())
    return parser.balances(data) if data.startswith(b'{"channel":"balances"') else parser.reports(data)


def valid_kraken_user(result: object) -> None:
    if isinstance(result, dict):
        for asset, total in result.items():
            _check(isinstance(asset, str) and _int(total) and total >= 0, "a balance", result)
        return
    _check(isinstance(result, list), "not a list of reports or a dict of balances", result)
    assert isinstance(result, list)
    for report in result:
        _check(report is not None, "a None report", result)
        valid_user_event(report)


def valid_reports_or_balances(result: object) -> None:
    """OKX, Bybit and Coinbase private pushes: a list of OrderReports (rebates allowed) or totals."""
    if isinstance(result, dict):
        valid_kraken_user(result)
        return
    _check(isinstance(result, list), "not a list of reports or a dict of balances", result)
    assert isinstance(result, list)
    for report in result:
        _check(isinstance(report, OrderReport), "not an OrderReport", result)
        valid_user_event(report, rebates=True)


def bybit_user(data: bytes) -> object:
    """Bybit v5 private `order`, `execution`, `wallet` pushes, routed by topic as the stream does."""
    parser = BybitUserParser(BYBIT_INSTRUMENTS)
    if data.startswith(b'{"topic":"wallet"'):
        return parser.balances(data)
    return parser.executions(data) if data.startswith(b'{"topic":"execution"') else parser.orders(data)


def coinbase_user(data: bytes) -> object:
    """Coinbase `user` channel; a fresh parser each time, seeded with our order's `received`."""
    parser = CoinbaseUserParser(COINBASE_INSTRUMENTS)
    parser.reports(COINBASE_USER[0])
    return parser.reports(data)


# --- the decoders --------------------------------------------------------------------------------------


@dataclass
class Decoder:
    """`run(data)` returns what the decoder made of `data` or raises; `errors` are its typed failures."""

    name: str
    seeds: tuple[bytes, ...]
    run: Callable[[bytes], object]
    validate: Callable[[object], None]
    errors: tuple[type[BaseException], ...] = ()
    state: Callable[[], object] | None = None  # for stateful decoders: must not change on a rejection
    maps: tuple[str, ...] = ()  # keys whose objects are maps of entries, not fields (see `containers`)
    stats: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0})

    def rejected(self, result: object) -> bool:
        return isinstance(result, list) and len(result) == 1 and isinstance(result[0], Malformed)

    def check(self, data: bytes) -> object | None:
        """One input through the decoder; raises Violation (or whatever escaped) on a broken contract."""
        before = self.state() if self.state is not None else None
        try:
            result = self.run(data)
        except self.errors:
            self.stats["rejected"] += 1
            if self.state is not None:
                _check(self.state() == before, "state changed on a rejected message", data[:200])
            return None
        if self.rejected(result):
            self.stats["rejected"] += 1
            if self.state is not None:
                _check(self.state() == before, "state changed on a rejected message", data[:200])
        else:
            self.stats["accepted"] += 1
        self.validate(result)
        return result


BINANCE_BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000")
BINANCE_INSTRUMENTS = {"BTCUSDT": BINANCE_BTC}
B_DEPTH = (
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT",'
    b'"U":50093239189,"u":50093239202,"b":[["61737.63000000","0.00000000"],["61730.17000000","1.25000000"]],'
    b'"a":[["61837.64000000","1.54698000"]]}}'
)
B_FUTURES_DEPTH = (
    b'{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,'
    b'"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,'
    b'"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","3.330"]]}}'
)
B_RAW_DEPTH = (
    b'{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,'
    b'"b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"]]}'
)
B_TICKER = (
    b'{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",'
    b'"B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}'
)
B_TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
    b'"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}'
)
B_AGG_TRADE = (
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"BTCUSDT",'
    b'"p":"61800.30000000","q":"0.10000000","f":23961322,"l":23961323,"T":1626992741421,"m":false}}'
)
B_CONTROL = (b'{"result":null,"id":1}', b'{"code":2,"msg":"Invalid request","id":3}')
BINANCE_MARKET = (B_DEPTH, B_FUTURES_DEPTH, B_RAW_DEPTH, B_TICKER, B_TRADE, B_AGG_TRADE, *B_CONTROL)

B_EXECUTION = (
    b'{"e":"executionReport","E":1499405658658,"s":"BTCUSDT","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY",'
    b'"o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,'
    b'"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":4293153,"l":"0.50000000",'
    b'"z":"0.50000000","L":"0.10264410","n":"0.00010000","N":"BNB","T":1499405658657,"t":77,"I":8641984,'
    b'"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.05","Y":"0.05","Q":"0.00000000"}'
)
B_CANCELED = (
    b'{"e":"executionReport","E":1499405658658,"s":"BTCUSDT","c":"cancel-1","S":"SELL","q":"1.00000000",'
    b'"p":"62000.00000000","x":"CANCELED","X":"CANCELED","r":"NONE","i":4293154,"l":"0.00000000",'
    b'"z":"0.00000000","L":"0.00000000","C":"orig-1","T":1499405658657,"t":-1}'
)
B_ACCOUNT = (
    b'{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"BTC",'
    b'"f":"10.00000000","l":"0.50000000"},{"a":"USDT","f":"1000.12345678","l":"0.00000000"}]}'
)
B_WS_API_EVENT = b'{"subscriptionId":0,"event":' + B_ACCOUNT + b"}"
BINANCE_USER = (B_EXECUTION, B_CANCELED, B_ACCOUNT, B_WS_API_EVENT, b'{"e":"listStatus","E":1}')

B_SNAPSHOT = (
    b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"],["3.99000000","9.00000000"]],'
    b'"asks":[["4.00000200","12.00000000"]]}'
)
B_SNAPSHOT_BTC = (
    b'{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["61737.63000000","0.10000000"]],'
    b'"asks":[["61837.64000000","1.54698000"],["61837.65000000","0.00100000"]]}'
)
B_ORDER = (
    b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP",'
    b'"price":"61000.00000000","origQty":"0.00100000","executedQty":"0.00000000",'
    b'"cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"SELL",'
    b'"stopPrice":"0.00000000","icebergQty":"0.00000000","time":1507725176595,"updateTime":1507725176595,'
    b'"isWorking":true,"workingTime":1507725176595,"origQuoteOrderQty":"0.000000",'
    b'"selfTradePreventionMode":"NONE"}'
)
B_ORDER_ACK = (
    b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP",'
    b'"transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000",'
    b'"cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET",'
    b'"side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE","fills":[{"price":'
    b'"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56}]}'
)
B_CANCELED_ORDER = (
    b'{"symbol":"BTCUSDT","origClientOrderId":"myOrder1","orderId":4,"orderListId":-1,'
    b'"clientOrderId":"cancelMyOrder1","transactTime":1684804350068,"price":"2.00000000",'
    b'"origQty":"1.00000000","executedQty":"0.00000000","cummulativeQuoteQty":"0.00000000",'
    b'"status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"}'
)
B_ACCOUNT_REST = (
    b'{"makerCommission":15,"takerCommission":15,"canTrade":true,"canWithdraw":true,"canDeposit":true,'
    b'"updateTime":123456789,"accountType":"SPOT","balances":[{"asset":"BTC","free":"4723846.89208129",'
    b'"locked":"0.00000000"}],"permissions":["SPOT"],"uid":354937868,"commissionRates":{"maker":"0.00150000",'
    b'"taker":"0.00150000","buyer":"0.00000000","seller":"0.00000000"}}'
)
B_MY_TRADES = (
    b'[{"symbol":"BTCUSDT","id":28457,"orderId":100234,"orderListId":-1,"price":"4.00000100",'
    b'"qty":"12.00000000","quoteQty":"48.000012","commission":"10.10000000","commissionAsset":"BNB",'
    b'"time":1499865549590,"isBuyer":true,"isMaker":false,"isBestMatch":true}]'
)
B_EXCHANGE_INFO = (
    b'{"timezone":"UTC","serverTime":1565246363776,"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT",'
    b'"interval":"MINUTE","intervalNum":1,"limit":6000}],"exchangeFilters":[],"symbols":[{"symbol":"BTCUSDT",'
    b'"status":"TRADING","baseAsset":"BTC","baseAssetPrecision":8,"quoteAsset":"USDT",'
    b'"quoteAssetPrecision":8,"orderTypes":["LIMIT","MARKET"],"isSpotTradingAllowed":true,"filters":['
    b'{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000",'
    b'"tickSize":"0.01000000"},{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000",'
    b'"stepSize":"0.00001000"},{"filterType":"NOTIONAL","minNotional":"5.00000000"}]}]}'
)
B_REST_ERROR = b'{"code":-1121,"msg":"Invalid symbol."}'
B_API_RESTRICTIONS = (
    b'{"ipRestrict":false,"createTime":1698645219000,"enableReading":true,"enableWithdrawals":false,'
    b'"enableInternalTransfer":false,"enableMargin":false,"enableFutures":false,'
    b'"permitsUniversalTransfer":false,"enableVanillaOptions":false,"enableFixApiTrade":false,'
    b'"enableFixReadOnly":true,"enableSpotAndMarginTrading":true,"enablePortfolioMarginTrading":false}'
)

OKX_INSTRUMENTS = {"BTC-USDT": Instrument.from_steps("okx", "BTC-USDT", "BTC", "USDT", "0.1", "0.00000001")}
OKX_MARKET = (
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":'
    b'[["8477.1","415","0","13"],["8478","7","0","2"]],"bids":[["8476.9","0.00012","0","1"]],'
    b'"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}',
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
    b'[["8477.1","0","0","0"]],"bids":[],"ts":"1597026383090","checksum":5,"prevSeqId":123456,"seqId":123457}]}',
    b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
    b'"tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897"}]}',
    b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","askPx":"9999.9",'
    b'"askSz":"11","bidPx":"8888.8","bidSz":"5","ts":"1597026383085"}]}',
    b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}',
    b'{"event":"error","code":"60012","msg":"Invalid request"}',
)
OKX_INSTRUMENTS_REST = (
    b'{"code":"0","msg":"","data":[{"instId":"BTC-USDT","instType":"SPOT","baseCcy":"BTC","quoteCcy":"USDT",'
    b'"tickSz":"0.1","lotSz":"0.00000001","minSz":"0.00001","state":"live"}]}',
)

KRAKEN_INSTRUMENTS = {"BTC/USD": Instrument("kraken", "BTC/USD", "BTC", "USD", price_scale=1, size_scale=8)}
KRAKEN_USER = (
    b'{"channel":"executions","type":"update","data":[{"order_id":"OK4GJX-KSTLS-7DZZO5","symbol":"BTC/USD",'
    b'"side":"sell","order_type":"limit","order_qty":0.01,"limit_price":45283.5,"exec_type":"trade",'
    b'"order_status":"partially_filled","cum_qty":0.004,"cl_ord_id":"ts1-1-1","exec_id":"TCCCTY-WE2O6-P3NB37",'
    b'"trade_id":101,"last_qty":0.004,"last_price":45283.5,"liquidity_ind":"m","fees":[{"asset":"USD",'
    b'"qty":0.289814}],"timestamp":"2023-09-22T10:33:05.709993Z"}]}',
    b'{"channel":"executions","type":"snapshot","data":[{"order_id":"OK4GJX-KSTLS-7DZZO5","symbol":"BTC/USD",'
    b'"side":"buy","exec_type":"new","order_status":"new","cum_qty":0,"timestamp":"2023-09-22T10:33:05Z"}]}',
    b'{"channel":"balances","type":"update","data":[{"asset":"USD","asset_class":"currency",'
    b'"balance":1234.5678,"timestamp":"2023-09-22T10:33:05.709993Z"}]}',
)
OKX_USER = (
    b'{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"instId":"BTC-USDT","ordId":"312269865356374016",'
    b'"clOrdId":"ts1Z1Z1","side":"buy","state":"partially_filled","accFillSz":"0.001","uTime":"1597026383085",'
    b'"tradeId":"242589207","fillPx":"30000.1","fillSz":"0.001","fillTime":"1597026383085","fillFee":"-0.03",'
    b'"fillFeeCcy":"USDT","code":"0","msg":""}]}',
    b'{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"instId":"BTC-USDT","ordId":"312269865356374016",'
    b'"clOrdId":"ts1Z1Z1","side":"sell","state":"canceled","accFillSz":"0","uTime":"1597026383085"}]}',
)
BYBIT_USER = (
    b'{"topic":"order","data":[{"category":"spot","symbol":"BTCUSDT","orderId":"1321052653536515584",'
    b'"orderLinkId":"ts1-1-1","side":"Buy","orderStatus":"New","cumExecQty":"0","updatedTime":"1672364262457"}]}',
    b'{"topic":"execution","data":[{"category":"spot","symbol":"BTCUSDT","orderId":"1321052653536515584",'
    b'"orderLinkId":"ts1-1-1","side":"Sell","execId":"a8ea3e6a-7a79-5ac5-9bf8-3ed9b5a1ff09",'
    b'"execPrice":"16800.00","execQty":"0.001","execFee":"-0.0005","feeCurrency":"USDT",'
    b'"execTime":"1672364174443","orderQty":"0.002","leavesQty":"0.001","execType":"Trade"}]}',
    b'{"topic":"wallet","data":[{"accountType":"UNIFIED","coin":[{"coin":"USDT","walletBalance":"1000.5"},'
    b'{"coin":"BTC","walletBalance":"0.25"}]}]}',
)
COINBASE_USER = (
    b'{"type":"received","product_id":"BTC-USD","time":"2023-09-25T07:49:37.708706Z","sequence":10,'
    b'"order_id":"d50ec984-77a8-460a-b958-66f114b0de9b","client_oid":"3e0d6ffe-95a0-4e3a-a3a9-0d3e3b4a5c6d",'
    b'"side":"buy","size":"0.002","price":"26000.00"}',
    b'{"type":"open","product_id":"BTC-USD","time":"2023-09-25T07:49:37.708706Z","sequence":11,'
    b'"order_id":"d50ec984-77a8-460a-b958-66f114b0de9b","side":"buy","price":"26000.00","remaining_size":"0.002"}',
    b'{"type":"match","trade_id":10,"sequence":12,"maker_order_id":"d50ec984-77a8-460a-b958-66f114b0de9b",'
    b'"taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2023-09-25T07:49:38.708706Z",'
    b'"product_id":"BTC-USD","size":"0.001","price":"26000.00","side":"buy","maker_fee_rate":"0.004"}',
    b'{"type":"done","product_id":"BTC-USD","time":"2023-09-25T07:49:39.708706Z","sequence":13,'
    b'"order_id":"d50ec984-77a8-460a-b958-66f114b0de9b","reason":"canceled","side":"buy","remaining_size":"0.001"}',
)
KRAKEN_MARKET = (
    b'{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,'
    b'"qty":0.1}],"asks":[{"price":45285.2,"qty":0.001}],"checksum":12345,'
    b'"timestamp":"2023-10-06T17:35:55.440295Z"}]}',
    b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,'
    b'"qty":0}],"asks":[],"checksum":12345,"timestamp":"2023-10-06T17:35:56.000001Z"}]}',
    b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,'
    b'"qty":0.0005,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
    b'{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":45283.5,"bid_qty":0.1,'
    b'"ask":45285.2,"ask_qty":1,"last":45285.2,"volume":1.5}]}',
    b'{"channel":"heartbeat"}',
    b'{"method":"subscribe","error":"Currency pair not supported","success":false}',
    b'[336,[["45283.50000","0.00050000","1695628177.708706","s","m",""]],"trade","BTC/USD"]',
    b'[340,{"a":["45285.20000",1,"1.000"],"b":["45283.50000",0,"0.10000000"],"c":["45285.2","0.1"]},'
    b'"ticker","BTC/USD"]',
)
KRAKEN_ASSET_PAIRS = (
    b'{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","base":"XXBT","quote":"ZUSD",'
    b'"pair_decimals":1,"lot_decimals":8,"ordermin":"0.0001"}}}',
)

BYBIT_INSTRUMENTS = {"BTCUSDT": Instrument.from_steps("bybit", "BTCUSDT", "BTC", "USDT", "0.10", "0.001")}
BYBIT_MARKET = (
    b'{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT",'
    b'"b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"]],"u":18521288,'
    b'"seq":7961638724},"cts":1672304484976}',
    b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1672304484979,"data":{"s":"BTCUSDT",'
    b'"b":[["16493.50","0"]],"a":[],"u":18521289,"seq":7961638725}}',
    b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
    b'"s":"BTCUSDT","S":"Sell","v":"0.001","p":"16578.50","L":"PlusTick",'
    b'"i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}',
    b'{"topic":"tickers.BTCUSDT","type":"snapshot","cs":1,"ts":1,"data":{"symbol":"BTCUSDT",'
    b'"bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"}}',
    b'{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}',
    b'{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}',
)
BYBIT_INSTRUMENTS_REST = (
    b'{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT","baseCoin":"BTC",'
    b'"quoteCoin":"USDT","priceFilter":{"minPrice":"0.10","maxPrice":"199999.80","tickSize":"0.10"},'
    b'"lotSizeFilter":{"maxOrderQty":"100.000","minOrderQty":"0.001","qtyStep":"0.001"}}]}}',
)
BYBIT_V2_INSTRUMENTS = {"BTCUSD": Instrument.from_steps("bybit", "BTCUSD", "BTC", "USD", "0.5", "1")}
BYBIT_V2_MARKET = (
    b'{"topic":"orderBookL2_25.BTCUSD","type":"snapshot","data":[{"price":"32170.00","symbol":"BTCUSD",'
    b'"id":321700000,"side":"Buy","size":13},{"price":"32171.50","symbol":"BTCUSD","id":321715000,'
    b'"side":"Sell","size":1245}],"cross_seq":6798420599,"timestamp_e6":1625184000208493}',
    b'{"topic":"orderBookL2_25.BTCUSD","type":"delta","data":{"delete":[{"price":"32170.00",'
    b'"symbol":"BTCUSD","id":321700000,"side":"Buy"}],"update":[{"price":"32171.50","symbol":"BTCUSD",'
    b'"id":321715000,"side":"Sell","size":10}],"insert":[]},"cross_seq":6798420600,'
    b'"timestamp_e6":1625184000308493}',
    b'{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1625184000246,"timestamp":"2021-07-02T00:00:00.000Z",'
    b'"symbol":"BTCUSD","side":"Buy","size":100,"price":32171.5,"tick_direction":"PlusTick",'
    b'"trade_id":"a8ea3e6a-7a79-5ac5-9bf8-3ed9b5a1ff09","cross_seq":6798420600}]}',
    b'{"success":true,"ret_msg":"","conn_id":"x","request":{"op":"subscribe","args":["trade"]}}',
)
BYBIT_V2_SYMBOLS = (
    b'{"ret_code":0,"ret_msg":"OK","result":[{"name":"BTCUSD","alias":"BTCUSD","status":"Trading",'
    b'"base_currency":"BTC","quote_currency":"USD","price_scale":2,"taker_fee":"0.00075",'
    b'"price_filter":{"min_price":"0.5","max_price":"999999","tick_size":"0.5"},'
    b'"lot_size_filter":{"max_trading_qty":1000000,"min_trading_qty":1,"qty_step":1}}]}',
)

COINBASE_INSTRUMENTS = {
    "BTC-USD": Instrument.from_steps("coinbase", "BTC-USD", "BTC", "USD", "0.01", "0.00000001")
}
COINBASE_MARKET = (
    b'{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"]],'
    b'"asks":[["10102.55","0.57753524"]],"time":"2022-10-19T19:40:29.094311Z"}',
    b'{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.80","0.162567"],'
    b'["sell","10102.55","0"]],"time":"2019-08-14T20:42:27.265Z"}',
    b'{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66","taker_order_id":"132fb6ae",'
    b'"time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23",'
    b'"side":"sell"}',
    b'{"type":"ticker","sequence":37475248783,"product_id":"BTC-USD","price":"1285.22","best_bid":"1285.04",'
    b'"best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy",'
    b'"time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}',
    b'{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD",'
    b'"time":"2014-11-07T08:19:28.464459Z"}',
    b'{"type":"error","message":"error message","reason":"failure"}',
)
COINBASE_PRODUCTS = (
    b'[{"id":"BTC-USD","base_currency":"BTC","quote_currency":"USD","quote_increment":"0.01000000",'
    b'"base_increment":"0.00000001","display_name":"BTC/USD","min_market_funds":"1","status":"online"}]',
)


def _binance_inferring_state(parser: BinanceMarketParser) -> Callable[[], object]:
    return lambda: {symbol: parser.scales(symbol) for symbol in list(parser._scales)}


def _binance_book_sync() -> Decoder:
    """Parser + book sync as the feed wires them: a rejected frame leaves the synced book alone."""
    parser = BinanceMarketParser(BINANCE_INSTRUMENTS)
    sync = BinanceBookSync("BTCUSDT")
    sync.on_delta(parser.parse(B_RAW_DEPTH.replace(b"50093239189", b"50093239180"), 0)[0])  # type: ignore[arg-type]
    snapshot = parser.parse_depth_snapshot(B_SNAPSHOT_BTC.replace(b"1027024", b"50093239185"), "BTCUSDT", 0)
    sync.on_snapshot(snapshot)

    def run(data: bytes) -> object:
        events = parser.parse(data, 1)
        for event in events:
            if isinstance(event, BookDelta) and event.symbol == "BTCUSDT":
                sync.on_delta(event)
        return events

    def state() -> object:
        book = sync.book
        return (sync.state, book.last_update_id, book.bids(), book.asks(), sync.buffered)

    return Decoder("binance.market+book_sync", BINANCE_MARKET, run, valid_events, (), state)


def _gateway() -> binance_rest.BinanceRestGateway:
    return binance_rest.BinanceRestGateway(HmacSigner("fuzz-key", "fuzz-secret"), clock=ManualClock())


def _rest(name: str, decoder: msgspec.json.Decoder[Any], seeds: tuple[bytes, ...]) -> Decoder:
    """A Binance REST body through the gateway's response handling: a value or a VenueError."""
    gateway = _gateway()

    def run(data: bytes) -> object:
        return gateway._outcome("GET", f"/{name}", 200, data, None, decoder)

    return Decoder(f"binance.rest.{name}", seeds, run, valid_anything, (VenueError,))


def _rest_error() -> Decoder:
    """A Binance error response (4xx/5xx/429) of any body: always a typed VenueError."""
    gateway = _gateway()
    statuses = (400, 401, 403, 404, 409, 418, 429, 500, 503)

    def run(data: bytes) -> object:
        status = statuses[len(data) % len(statuses)]
        return gateway._outcome("POST", "/api/v3/order", status, data, "1", binance_rest._ORDER_ACK)

    return Decoder("binance.rest.error_response", (B_REST_ERROR,), run, valid_anything, (VenueError,))


def _snapshot_conversion() -> Decoder:
    """REST depth body -> the feed's BookSnapshot (decode, then exact conversion at the instrument)."""
    gateway = _gateway()

    def run(data: bytes) -> object:
        depth = gateway._outcome("GET", "/api/v3/depth", 200, data, None, binance_rest._DEPTH)
        return snapshot_from_depth(BINANCE_BTC, depth)

    def validate(result: object) -> None:
        valid_event(result)

    return Decoder("binance.feed.snapshot", (B_SNAPSHOT_BTC,), run, validate, (VenueError, MalformedMessage))


def build_decoders() -> list[Decoder]:
    """Fresh decoders (stateful ones start warmed up with valid messages)."""
    inferring = BinanceMarketParser.inferring()
    for frame in (B_DEPTH, B_TICKER):
        inferring.parse(frame, 0)
    bybit_inferring = BybitMarketParser.inferring()
    bybit_inferring.parse(BYBIT_MARKET[0], 0)
    user = UserStreamParser(BINANCE_INSTRUMENTS)
    return [
        Decoder("binance.market", BINANCE_MARKET,
                lambda d: BinanceMarketParser(BINANCE_INSTRUMENTS).parse(d, 1), valid_events),
        Decoder("binance.market.inferring", BINANCE_MARKET, lambda d: inferring.parse(d, 1), valid_events,
                (), _binance_inferring_state(inferring)),
        _binance_book_sync(),
        Decoder("binance.user_stream", BINANCE_USER, user.parse, valid_user_event, (UserStreamParseError,)),
        Decoder("binance.rest.depth_snapshot", (B_SNAPSHOT, B_SNAPSHOT_BTC),
                lambda d: BinanceMarketParser(BINANCE_INSTRUMENTS).parse_depth_snapshot(d, "BTCUSDT", 1),
                valid_event, (MalformedMessage,)),
        _snapshot_conversion(),
        _rest("order_ack", binance_rest._ORDER_ACK, (B_ORDER_ACK,)),
        _rest("order", binance_rest._ORDER, (B_ORDER,)),
        _rest("open_orders", binance_rest._ORDERS, (b"[" + B_ORDER + b"]",)),
        _rest("cancel", binance_rest._CANCELED, (B_CANCELED_ORDER,)),
        _rest("cancel_all", binance_rest._CANCELED_LIST, (b"[" + B_CANCELED_ORDER + b"]",)),
        _rest("account", binance_rest._ACCOUNT, (B_ACCOUNT_REST,)),
        _rest("my_trades", binance_rest._TRADES, (B_MY_TRADES,)),
        _rest("exchange_info", binance_rest._EXCHANGE_INFO, (B_EXCHANGE_INFO,)),
        _rest("depth", binance_rest._DEPTH, (B_SNAPSHOT,)),
        _rest("listen_key", binance_rest._LISTEN_KEY, (b'{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8"}',)),
        _rest("server_time", binance_rest._SERVER_TIME, (b'{"serverTime":1499827319559}',)),
        _rest_error(),
        # msgspec.DecodeError, or UnicodeDecodeError on bad UTF-8: both ValueError
        Decoder("binance.rest.api_restrictions", (B_API_RESTRICTIONS,), parse_api_restrictions,
                valid_anything, (ValueError,)),
        Decoder("okx.market", OKX_MARKET,
                lambda d: OkxMarketParser(OKX_INSTRUMENTS).parse(d, 1), valid_events),
        Decoder("okx.rest.instruments", OKX_INSTRUMENTS_REST, okx_instruments, valid_instruments,
                (OkxParseError,)),
        Decoder("kraken.market", KRAKEN_MARKET,
                lambda d: KrakenMarketParser(KRAKEN_INSTRUMENTS).parse(d, 1), valid_events),
        Decoder("kraken.rest.asset_pairs", KRAKEN_ASSET_PAIRS, instruments_from_asset_pairs,
                valid_instruments, (KrakenParseError,), maps=("result",)),
        Decoder("kraken.user_stream", KRAKEN_USER, kraken_user, valid_kraken_user,
                (KrakenUserStreamParseError,)),
        Decoder("bybit.market", BYBIT_MARKET, lambda d: BybitMarketParser(BYBIT_INSTRUMENTS).parse(d, 1),
                valid_events),
        Decoder("bybit.market.inferring", BYBIT_MARKET, lambda d: bybit_inferring.parse(d, 1), valid_events,
                (), lambda: dict(bybit_inferring._scales._inferred or {})),
        Decoder("bybit.v2.market", BYBIT_V2_MARKET,
                lambda d: BybitV2MarketParser(BYBIT_V2_INSTRUMENTS).parse(d, 1), valid_events),
        Decoder("bybit.rest.instruments", BYBIT_INSTRUMENTS_REST, bybit_instruments, valid_instruments,
                (BybitParseError,), maps=("priceFilter", "lotSizeFilter")),  # typed dict[str, str]
        Decoder("bybit.rest.v2_symbols", BYBIT_V2_SYMBOLS, instruments_from_v2_symbols, valid_instruments,
                (BybitParseError,)),
        Decoder("coinbase.market", COINBASE_MARKET,
                lambda d: CoinbaseMarketParser(COINBASE_INSTRUMENTS).parse(d, 1), valid_events),
        Decoder("coinbase.rest.products", COINBASE_PRODUCTS, products_from_rest, valid_instruments,
                (CoinbaseParseError,)),
        Decoder("okx.user_stream", OKX_USER, lambda d: OkxOrdersParser(OKX_INSTRUMENTS).reports(d),
                valid_reports_or_balances, (OkxUserStreamParseError,)),
        Decoder("bybit.user_stream", BYBIT_USER, bybit_user, valid_reports_or_balances,
                (BybitUserStreamParseError,)),
        Decoder("coinbase.user_stream", COINBASE_USER, coinbase_user, valid_reports_or_balances,
                (CoinbaseUserStreamParseError,)),
    ]  # fmt: skip


def comparable(result: object) -> object:
    """A result with each Malformed reduced to its reason (its sample is the frame, which differs)."""
    if isinstance(result, list):
        return [("Malformed", item.reason) if isinstance(item, Malformed) else item for item in result]
    return result


def seeds_are_valid(decoder: Decoder) -> None:
    """Every seed decodes without a rejection, except the deliberate error replies."""
    for seed in decoder.seeds:
        decoder.check(seed)
