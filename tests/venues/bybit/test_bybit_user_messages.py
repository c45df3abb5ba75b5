"""Bybit's private pushes (`order`, `execution`, `wallet`) decoded: examples, then any input gives
reports or the typed UserStreamParseError, never another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import OrderStatus
from tradestack.venues.bybit.user_messages import UserParser, UserStreamParseError

BTC = Instrument.from_steps("bybit", "BTCUSDT", "BTC", "USDT", "0.01", "0.000001")
PARSER = UserParser({"BTCUSDT": BTC})

ORDER: dict[str, Any] = {
    "id": "5923240c6880ab-c59f-420b-9adb-3639adc9dd90",
    "topic": "order",
    "creationTime": 1672364262474,
    "data": [
        {
            "category": "spot",
            "symbol": "BTCUSDT",
            "orderId": "1321003749386327552",
            "orderLinkId": "mm-1-7",
            "side": "Buy",
            "orderStatus": "PartiallyFilled",
            "price": "60000.00",
            "qty": "0.020000",
            "cumExecQty": "0.005000",
            "rejectReason": "EC_NoError",
            "createdTime": "1672364262444",
            "updatedTime": "1672364262457",
        }
    ],
}
EXECUTION: dict[str, Any] = {
    "id": "592324803b2785-26fa-4214-9963-bdd4727f07be",
    "topic": "execution",
    "creationTime": 1672364174455,
    "data": [
        {
            "category": "spot",
            "symbol": "BTCUSDT",
            "execFee": "-0.015",
            "feeCurrency": "USDT",
            "execId": "7e2ae69c-4edf-5800-a352-893d52b446aa",
            "execPrice": "60000.00",
            "execQty": "0.005000",
            "execType": "Trade",
            "execValue": "300",
            "isMaker": True,
            "orderId": "1321003749386327552",
            "orderLinkId": "mm-1-7",
            "orderPrice": "60000.00",
            "orderQty": "0.020000",
            "leavesQty": "0.015000",
            "side": "Buy",
            "execTime": "1672364174443",
            "seq": 4688002127,
        }
    ],
}
WALLET: dict[str, Any] = {
    "id": "592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e",
    "topic": "wallet",
    "creationTime": 1700034722104,
    "data": [
        {"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "100000.5", "locked": "12"}]}
    ],
}


def frame(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def test_an_execution_is_a_report_with_its_fill_and_a_rebate_stays_negative() -> None:
    (report,) = PARSER.executions(frame(EXECUTION))
    fill = report.fill
    assert fill is not None
    assert (fill.trade_id, fill.side, fill.price, fill.size) == (
        "7e2ae69c-4edf-5800-a352-893d52b446aa",
        Side.BUY,
        BTC.price("60000"),
        BTC.size("0.005"),
    )
    assert (fill.fee, fill.fee_asset) == (-1_500_000, "USDT")  # a maker rebate of 0.015 USDT
    assert (report.status, report.filled_total) == (OrderStatus.PARTIALLY_FILLED, BTC.size("0.005"))
    assert report.venue_order_id == 1321003749386327552
    assert fill.ts_event == 1672364174443 * 1_000_000


def test_order_and_wallet_pushes() -> None:
    (report,) = PARSER.orders(frame(ORDER))
    assert (report.client_id, report.status, report.fill) == ("mm-1-7", OrderStatus.PARTIALLY_FILLED, None)
    assert PARSER.balances(frame(WALLET)) == {"USDT": 100_000_50_000_000}


def test_other_categories_and_symbols_are_not_ours_and_unknown_states_are_errors() -> None:
    linear = json.loads(json.dumps(ORDER))
    linear["data"][0]["category"] = "linear"
    assert PARSER.orders(frame(linear)) == []
    other = json.loads(json.dumps(EXECUTION))
    other["data"][0]["symbol"] = "XRPUSDT"
    assert PARSER.executions(frame(other)) == []
    unknown = json.loads(json.dumps(ORDER))
    unknown["data"][0]["orderStatus"] = "Exploded"
    with pytest.raises(UserStreamParseError):
        PARSER.orders(frame(unknown))
    negative = json.loads(json.dumps(EXECUTION))
    negative["data"][0]["execQty"] = "-0.005"
    with pytest.raises(UserStreamParseError):
        PARSER.executions(frame(negative))


def decode(data: bytes) -> None:
    for method in (PARSER.orders, PARSER.executions, PARSER.balances):
        try:
            result = method(data)
        except UserStreamParseError:
            continue
        if isinstance(result, dict):
            assert all(isinstance(total, int) and total >= 0 for total in result.values())
            continue
        for report in result:
            assert report.filled_total >= 0 and report.ts_event >= 0
            if report.fill is not None:
                assert report.fill.size > 0 and report.fill.price > 0


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["-1", "1e400", "0", "", "NaN", " 1", "1.0000000001", "99999999999999999999999"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_reports_or_the_typed_error(data: bytes) -> None:
    decode(data)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from([ORDER, EXECUTION, WALLET]), st.data())
def test_mutated_pushes_give_reports_or_the_typed_error(seed: dict[str, Any], data: st.DataObject) -> None:
    message = json.loads(json.dumps(seed))
    entry = message["data"][0]
    target = entry["coin"][0] if "coin" in entry else entry
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(sorted(target)))
        if data.draw(st.booleans()):
            target[key] = data.draw(ODD)
        else:
            target.pop(key)
        if not target:
            break
    decode(frame(message))


def test_without_fee_currency_a_buy_pays_in_base_and_a_sell_in_quote() -> None:
    bare = json.loads(json.dumps(EXECUTION))
    del bare["data"][0]["feeCurrency"]
    (buy,) = PARSER.executions(frame(bare))
    bare["data"][0]["side"] = "Sell"
    (sell,) = PARSER.executions(frame(bare))
    assert buy.fill is not None and sell.fill is not None
    assert (buy.fill.fee_asset, sell.fill.fee_asset) == ("BTC", "USDT")
