"""Exact conversion between venue decimal strings and integer units: properties, against Decimal."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.instruments import Instrument, NotRepresentable, format_fixed, parse_fixed, scale_of

scales = st.integers(min_value=0, max_value=18)
digit_runs = st.text(alphabet="0123456789", min_size=1, max_size=20)


def decimal_units(text: str, scale: int) -> Decimal:
    """The reference: the exact value of `text` in units of 10**-scale (no rounding at 100 digits)."""
    with localcontext() as context:
        context.prec = 100
        return Decimal(text).scaleb(scale)


@given(value=st.integers(min_value=-(10**30), max_value=10**30), scale=scales)
def test_format_then_parse_gives_the_integer_back(value: int, scale: int) -> None:
    assert parse_fixed(format_fixed(value, scale), scale) == value


@given(value=st.integers(min_value=0, max_value=10**24), scale=scales)
def test_format_writes_exactly_scale_decimals(value: int, scale: int) -> None:
    text = format_fixed(value, scale)
    whole, point, fraction = text.partition(".")
    assert (point, len(fraction)) == ((".", scale) if scale else ("", 0))
    assert whole.isdigit()
    assert Decimal(text) == decimal_units(str(value), -scale)


@given(whole=digit_runs, fraction=st.text(alphabet="0123456789", max_size=18), scale=scales)
def test_parse_matches_decimal_when_representable(whole: str, fraction: str, scale: int) -> None:
    text = f"{whole}.{fraction}" if fraction else whole
    reference = decimal_units(text, scale)
    if reference == reference.to_integral_value():
        assert parse_fixed(text, scale) == int(reference)
    else:
        with pytest.raises(NotRepresentable):
            parse_fixed(text, scale)


@given(whole=digit_runs, kept=st.text(alphabet="0123456789", max_size=8), extra=digit_runs)
def test_extra_significant_decimals_are_rejected_never_truncated(whole: str, kept: str, extra: str) -> None:
    scale = len(kept)
    text = f"{whole}.{kept}{extra}"
    if extra.strip("0"):
        with pytest.raises(NotRepresentable):
            parse_fixed(text, scale)
    else:  # only zeros beyond the scale: padding, exactly representable
        assert parse_fixed(text, scale) == int(whole + kept)


@given(padding=st.integers(min_value=0, max_value=10))
def test_trailing_zero_padding_is_exact(padding: int) -> None:
    assert parse_fixed("61737.63" + "0" * padding, 2) == 6173763


def test_examples() -> None:
    assert parse_fixed("61737.63000000", 2) == 6173763
    assert parse_fixed("0.00000000", 8) == 0
    assert parse_fixed("5", 3) == 5000
    assert parse_fixed("-0.05", 2) == -5
    assert format_fixed(6173763, 2) == "61737.63"
    assert format_fixed(-5, 2) == "-0.05"
    assert format_fixed(42, 0) == "42"
    with pytest.raises(NotRepresentable):
        parse_fixed("61737.631", 2)


def test_scale_of_counts_significant_decimals_of_a_step() -> None:
    assert scale_of("0.01000000") == 2
    assert scale_of("1.00000000") == 0
    assert scale_of("0.00001000") == 5
    assert scale_of("10") == 0


def test_instrument_from_exchange_info_steps() -> None:
    btc = Instrument.from_steps(
        "binance", "BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000", "0.00001000", "5"
    )
    assert (btc.price_scale, btc.size_scale, btc.tick, btc.lot) == (2, 5, 1, 1)
    assert btc.price("61737.63000000") == 6173763
    assert btc.size("0.02000000") == 2000
    assert btc.price_text(6173763) == "61737.63"
    assert btc.min_notional == 5 * 10**7
    assert btc.notional_scale == 7  # price units x size units: a notional is exact at 10**-7 USDT
    assert btc.round_price_down(6173763) == 6173763
