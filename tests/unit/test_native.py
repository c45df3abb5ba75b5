"""The C extension (`tradestack._native`) against its pure-Python twins and against Decimal.

- `levels_from_json` converts exactly what it takes (equal to Decimal) and declines (None) everything
  the strict Python path would reject or that does not fit int64, so a caller that falls back to Python
  on None always gets the exact answer.
- `BookSide` ends in the same state as `PythonSide` after any operations, and refuses (returns False,
  changes nothing) a level beyond int64; `OrderBook` then moves to Python sides and still agrees with a
  plain dict model.

Skipped when the extension is not built, unless TRADESTACK_REQUIRE_NATIVE=1 (then a failure).
"""

from __future__ import annotations

import os
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.native import python_only
from tradestack import _native
from tradestack.domain.book.order_book import OrderBook, PythonSide
from tradestack.domain.events import Level
from tradestack.domain.instruments import NotRepresentable
from tradestack.venues.binance.parse import exact_units

INT64_MAX = 2**63 - 1

if not _native.BUILT:
    if os.environ.get("TRADESTACK_REQUIRE_NATIVE") == "1":
        pytest.fail("tradestack._native._speedups is not built", pytrace=False)
    pytest.skip("tradestack._native._speedups is not built", allow_module_level=True)

from tradestack._native._speedups import BookSide, levels_from_json  # noqa: E402


def test_switching_to_python_and_back() -> None:
    assert _native.native_in_use()
    native_book = OrderBook("X")
    try:
        assert _native.use_native(False) is False
        assert _native.levels_from_json is None
        assert _native.book_side is None
        assert isinstance(OrderBook("X")._bids, PythonSide)
        assert isinstance(native_book._bids, BookSide)  # a book keeps its sides until cleared
        native_book.clear()
        assert isinstance(native_book._bids, PythonSide)
    finally:
        assert _native.use_native(True) is True
    assert _native.levels_from_json is levels_from_json
    assert _native.book_side is BookSide


# -- levels_from_json --------------------------------------------------------------------------------


def expected_units(text: str, scale: int) -> int | None:
    """Decimal's answer: the units when exact and within int64, else None (the C path declines)."""
    value = Decimal(text).scaleb(scale)
    if value != value.to_integral_value() or value > INT64_MAX:
        return None
    return int(value)


plain_decimals = st.builds(
    lambda whole, fraction: whole + ("." + fraction if fraction else ""),
    st.text("0123456789", min_size=1, max_size=22),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=22)),
)
scales = st.integers(min_value=0, max_value=24)


@settings(max_examples=2000, deadline=None)
@given(price=plain_decimals, size=plain_decimals, price_scale=scales, size_scale=scales)
def test_plain_decimals_convert_exactly_or_are_declined(
    price: str, size: str, price_scale: int, size_scale: int
) -> None:
    raw = msgspec.json.encode([[price, size]])
    want_price = expected_units(price, price_scale)
    want_size = expected_units(size, size_scale)
    result = levels_from_json(raw, price_scale, size_scale)
    if want_price is None or want_size is None:
        assert result is None
    else:
        assert result == [(want_price, want_size)]


@given(
    units=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=INT64_MAX), st.integers(min_value=0, max_value=INT64_MAX)
        ),
        max_size=40,
    ),
    price_scale=st.integers(min_value=0, max_value=18),
    size_scale=st.integers(min_value=0, max_value=18),
    padding=st.integers(min_value=0, max_value=4),
)
def test_padded_strings_round_trip(
    units: list[Level], price_scale: int, size_scale: int, padding: int
) -> None:
    """What venues send: exactly `scale` decimals (or a few zeros more), any value up to int64."""

    def text(value: int, scale: int) -> str:
        whole, fraction = divmod(value, 10**scale)
        return f"{whole}.{fraction:0{scale}d}{'0' * padding}" if scale or padding else str(whole)

    raw = msgspec.json.encode([[text(price, price_scale), text(size, size_scale)] for price, size in units])
    assert levels_from_json(raw, price_scale, size_scale) == units


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [
        ("9223372036854775807", 0, INT64_MAX),  # the largest value taken
        ("922337203685477580.7", 1, INT64_MAX),
        ("92233720368547758.070", 2, INT64_MAX),
        ("9223372036854775808", 0, None),  # one more: Python's big ints take it
        ("922337203685477581", 1, None),
        ("0.000000000000000000001", 21, 1),
        ("00000000000000000000000000001", 0, 1),  # leading zeros do not count against the range
        ("1.0000000000000000000000000000000000", 0, 1),
        ("0", 30, 0),
        ("1", 19, None),  # 10**19 units
        ("1", 18, 10**18),
    ],
)
def test_int64_edges(text: str, scale: int, units: int | None) -> None:
    expected = None if units is None else [(units, units)]
    assert levels_from_json(msgspec.json.encode([[text, text]]), scale, scale) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'[["1.5","-1"]]',
        b'[["+1.5","1"]]',
        b'[["1e5","1"]]',
        b'[["1E5","1"]]',
        b'[[".5","1"]]',
        b'[["5.","1"]]',
        b'[["1.5.0","1"]]',
        b'[["1_000","1"]]',
        b'[[" 1","1"]]',
        b'[["1 ","1"]]',
        b'[["","1"]]',
        b'[["\\u0031","1"]]',  # an escape: the Python path decodes it
        b'[["\xd9\xa3","1"]]',  # ARABIC-INDIC DIGIT THREE
        b'[["1.55","1"]]',  # a significant decimal beyond scale 1
        b'[[1.5,"1"]]',  # a number, not a string
        b'[["1.5"]]',
        b'[["1.5","1","2"]]',
        b'[["1.5",null]]',
        b'[["1.5","1"],]',
        b'[["1.5","1"]',
        b'["1.5","1"]',
        b'{"a":1}',
        b"null",
        b"",
        b'[["1.5","1"]] x',
    ],
)
def test_anything_unusual_is_declined(raw: bytes) -> None:
    assert levels_from_json(raw, 1, 0) is None


def test_json_whitespace_and_empty_arrays() -> None:
    assert levels_from_json(b' [ [ "1.5" ,\n\t"2" ] ,\r\n["3","0.0"] ] ', 1, 0) == [(15, 2), (30, 0)]
    assert levels_from_json(b"[]", 8, 8) == []
    assert levels_from_json(b" [ ] ", 8, 8) == []
    assert levels_from_json(memoryview(b'[["1","2"]]'), 0, 0) == [(1, 2)]
    assert levels_from_json(msgspec.Raw(b'[["1","2"]]'), 0, 0) == [(1, 2)]


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="price_scale"):
        levels_from_json(b"[]", -1, 0)
    with pytest.raises(TypeError):
        levels_from_json("[]", 0, 0)
    with pytest.raises(TypeError):
        levels_from_json(b"[]", 0)  # type: ignore[call-arg]


json_characters = st.sampled_from([*'0123456789.-+eE _"\\u,[]\t', "\u0663", "é", "0.5", "00"])
fragments = st.lists(json_characters, max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(price=fragments, size=fragments, scale=st.integers(min_value=0, max_value=10))
def test_any_string_converts_like_the_strict_path_or_is_declined(price: str, size: str, scale: int) -> None:
    """The caller's fallback (decode, then the strict path) decides whatever C declines."""
    raw = msgspec.json.encode([[price, size]])  # JSON escapes whatever needs it
    result = levels_from_json(raw, scale, scale)
    try:
        strict: list[Level] | None = [(exact_units(price, scale), exact_units(size, scale))]
    except (ValueError, NotRepresentable):
        strict = None
    if strict is None:
        assert result is None
    elif result is not None:
        assert result == strict


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=60), scale=st.integers(min_value=0, max_value=20))
def test_any_bytes_give_levels_or_none(data: bytes, scale: int) -> None:
    result = levels_from_json(data, scale, scale)
    assert result is None or all(len(level) == 2 for level in result)


# -- BookSide against PythonSide ---------------------------------------------------------------------

prices = st.one_of(
    st.integers(min_value=-5, max_value=40),  # few distinct prices: updates collide
    st.sampled_from([INT64_MAX, -INT64_MAX, 10**12 + 7]),
)
sizes = st.one_of(st.just(0), st.integers(min_value=-3, max_value=10**12), st.just(INT64_MAX))
small_levels = st.lists(st.tuples(prices, sizes), max_size=14)
beyond_int64 = st.sampled_from([2**63, -(2**63) - 1, 10**30, -(10**30)])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), small_levels),
        st.tuples(st.just("load"), small_levels),
        st.tuples(st.just("clear"), st.just([])),
    ),
    max_size=30,
)
depths = [None, 0, 1, 2, 5, 100, -1, -3, 10**30, -(10**30)]


def assert_same_side(native: BookSide, python: PythonSide) -> None:
    assert len(native) == len(python)
    assert native.best() == python.best()
    assert native.best_price() == python.best_price()
    for depth in depths:
        assert native.top(depth) == python.top(depth), depth


@settings(max_examples=400, deadline=None)
@given(operations=operations, descending=st.booleans())
def test_book_side_equals_python_side(operations: list[tuple[str, list[Level]]], descending: bool) -> None:
    native = BookSide(descending)
    python = PythonSide(descending)
    assert native.descending is descending
    for operation, levels in operations:
        if operation == "apply":
            assert native.apply(levels) is True
            python.apply(levels)
        elif operation == "load":
            assert native.load(levels) is True
            python.load(levels)
        else:
            native.clear()
            python.clear()
        assert_same_side(native, python)


@given(
    levels=small_levels, bad=beyond_int64, at=st.integers(min_value=0, max_value=14), as_size=st.booleans()
)
def test_book_side_refuses_a_level_beyond_int64_and_changes_nothing(
    levels: list[Level], bad: int, at: int, as_size: bool
) -> None:
    native = BookSide(False)
    native.load([(1, 1), (2, 2)])
    before = native.top()
    poisoned = list(levels)
    poisoned.insert(min(at, len(poisoned)), (1, bad) if as_size else (bad, 1))
    assert native.apply(poisoned) is False
    assert native.load(poisoned) is False
    assert native.top() == before


def test_book_side_refuses_what_is_not_a_pair_of_ints() -> None:
    native = BookSide(True)
    for levels in (
        [(1, 2, 3)],
        [(1,)],
        [(1.5, 1)],
        [(1, "2")],
        [None],
        [[1, 2.0]],
        [(True, 1)],
        [(1, False)],
    ):
        assert native.apply(levels) is False, levels
    assert native.apply([[1, 2]]) is True  # a two-item list is a level too
    assert native.top() == [(1, 2)]
    assert native.apply(((3, 4),)) is True
    with pytest.raises(TypeError):
        native.apply(iter([(1, 2)]))  # type: ignore[arg-type]
    assert native.apply([(-(2**63), 1)]) is False  # INT64_MIN has no negation (asks store -price)
    assert native.apply([(-(2**63) + 1, 1)]) is True


def test_load_keeps_the_last_positive_size_of_a_repeated_price() -> None:
    for side in (BookSide(False), PythonSide(False)):
        side.load([(5, 1), (5, 2), (5, 0), (6, -1), (7, 3)])
        assert side.top() == [(7, 3), (5, 2)]


# -- OrderBook, native and Python, against a dict model -------------------------------------------


class ReferenceBook:
    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def load(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = {price: size for price, size in bids if size > 0}
        self.asks = {price: size for price, size in asks if size > 0}

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, updates in ((self.bids, bids), (self.asks, asks)):
            for price, size in updates:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)


book_levels = st.lists(st.tuples(st.one_of(prices, beyond_int64), sizes), max_size=10)
book_operations = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), book_levels, book_levels),
        st.tuples(st.just("load"), book_levels, book_levels),
        st.tuples(st.just("clear"), st.just([]), st.just([])),
    ),
    max_size=30,
)


def check_book(operations: list[tuple[str, list[Level], list[Level]]]) -> None:
    book = OrderBook("X")
    reference = ReferenceBook()
    for update_id, (operation, bids, asks) in enumerate(operations, 1):
        if operation == "apply":
            book.apply(bids, asks, update_id)
            reference.apply(bids, asks)
        elif operation == "load":
            book.load(iter(bids), iter(asks), update_id)  # any iterable
            reference.load(bids, asks)
        else:
            book.clear()
            reference.load([], [])
        want_bids = sorted(reference.bids.items(), reverse=True)
        want_asks = sorted(reference.asks.items())
        assert book.bids() == want_bids
        assert book.asks() == want_asks
        for depth in (0, 1, 3):
            assert book.bids(depth) == want_bids[:depth]
            assert book.asks(depth) == want_asks[:depth]
        assert book.best_bid() == (want_bids[0] if want_bids else None)
        assert book.best_ask() == (want_asks[0] if want_asks else None)
        assert len(book) == len(want_bids) + len(want_asks)
        both = bool(want_bids and want_asks)
        assert book.mid_x2() == (want_bids[0][0] + want_asks[0][0] if both else None)
        assert book.is_crossed() == (both and want_bids[0][0] >= want_asks[0][0])


@settings(max_examples=300, deadline=None)
@given(operations=book_operations)
def test_native_order_book_equals_a_dict_model_even_beyond_int64(
    operations: list[tuple[str, list[Level], list[Level]]],
) -> None:
    check_book(operations)


@settings(max_examples=150, deadline=None)
@given(operations=book_operations)
def test_python_order_book_equals_a_dict_model(
    operations: list[tuple[str, list[Level], list[Level]]],
) -> None:
    with python_only():
        check_book(operations)


def test_a_book_moves_to_python_for_a_huge_price_and_back_to_c_on_clear() -> None:
    book = OrderBook("X")
    book.load([(10, 1), (9, 2)], [(11, 1)], 1)
    assert isinstance(book._bids, BookSide)
    book.apply([(8, 1)], [(10**30, 5), (12, 0)], 2)  # the ask side is refused by C: both sides move
    assert isinstance(book._bids, PythonSide)
    assert isinstance(book._asks, PythonSide)
    assert book.bids() == [(10, 1), (9, 2), (8, 1)]
    assert book.asks() == [(11, 1), (10**30, 5)]
    assert book.last_update_id == 2
    book.clear()
    assert isinstance(book._bids, BookSide)
    assert isinstance(book._asks, BookSide)


def test_moving_to_python_keeps_levels_that_load_would_drop() -> None:
    book = OrderBook("X")
    book.apply([(7, -1)], [], 1)  # apply keeps any nonzero size; load keeps positive sizes only
    book.apply([], [(2**64, 1)], 2)
    assert isinstance(book._bids, PythonSide)
    assert book.bids() == [(7, -1)]
    assert book.asks() == [(2**64, 1)]
