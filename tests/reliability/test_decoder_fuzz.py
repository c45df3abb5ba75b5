"""Bad input, part 1: every decoder of every venue fuzzed in one place (issue 4, item 6).

For each decoder in `reliability.fuzz_battery.DECODERS`: any bytes, and valid messages with wrong types
and absurd values (NaN, 1e400, negative or zero sizes, missing fields, invalid UTF-8, absurd times),
give only the decoder's typed error (market parsers: one `Malformed`) or valid values; a stateful
decoder keeps its state on a rejected message; unknown extra fields change nothing.

Example counts: `TRADESTACK_FUZZ_EXAMPLES` per decoder and input kind (default 60 here, about 20 s for
the file); the full run is scripts/fuzz_decoders.py (reports/fuzz_decoders.json).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability.fuzz_battery import (
    COINBASE_PRODUCTS,
    COINBASE_USER,
    OKX_USER,
    Decoder,
    arbitrary,
    build_decoders,
    comparable,
    seeds_are_valid,
    structured,
    with_extra_fields,
)

EXAMPLES = int(os.environ.get("TRADESTACK_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DECODERS = {decoder.name: decoder for decoder in build_decoders()}
NAMES = sorted(DECODERS)


def test_every_venue_and_every_kind_of_decoder_is_in_the_table() -> None:
    venues = {name.split(".")[0] for name in NAMES}
    assert venues == {"binance", "okx", "kraken", "bybit", "coinbase"}
    assert {"binance.market", "binance.user_stream", "binance.rest.depth_snapshot"} <= set(NAMES)
    assert all(any(name.startswith(f"{venue}.rest.") for name in NAMES) for venue in venues)


@pytest.mark.parametrize("name", NAMES)
def test_the_seeds_are_valid_messages(name: str) -> None:
    seeds_are_valid(DECODERS[name])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_any_bytes_give_the_typed_error_or_valid_values(name: str) -> None:
    decoder = DECODERS[name]

    @FUZZ
    @given(data=arbitrary(decoder.seeds))
    def run(data: bytes) -> None:
        decoder.check(data)

    run()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_wrong_types_and_absurd_values_give_the_typed_error_or_valid_values(name: str) -> None:
    decoder = DECODERS[name]

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        decoder.check(data.draw(structured(decoder.seeds)))

    run()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_extra_fields_are_accepted_and_change_nothing(name: str) -> None:
    decoder: Decoder = DECODERS[name]
    if decoder.state is not None:
        pytest.skip("stateful: the stateless twin of this decoder checks extra fields")

    @FUZZ
    @given(pair=with_extra_fields(decoder.seeds, decoder.maps))
    def run(pair: tuple[bytes, bytes]) -> None:
        seed, extended = pair
        assert comparable(decoder.check(extended)) == comparable(decoder.check(seed))

    run()


# Inputs the full run (seed 4242, 2026-11-25) found, kept as regressions: each must be the typed error.
FOUND = [
    ("okx.user_stream", OKX_USER[0].replace(b'"fillTime":"1597026383085"', b'"fillTime":"10597026383085"')),
    ("okx.user_stream", OKX_USER[0].replace(b'"accFillSz":"0.001"', b'"accFillSz":"-1"')),
    (
        "coinbase.user_stream",
        COINBASE_USER[0].replace(b"2023-09-25T07:49:37.708706Z", b"3000-01-01T00:00:00Z"),
    ),
    ("coinbase.rest.products", COINBASE_PRODUCTS[0].replace(b'"0.01000000"', b'"0.' + b"0" * 44 + b'1"')),
]


@pytest.mark.parametrize(("name", "frame"), FOUND)
def test_what_the_full_run_found_stays_a_typed_error(name: str, frame: bytes) -> None:
    decoder = DECODERS[name]
    assert frame not in decoder.seeds
    with pytest.raises(decoder.errors):
        decoder.run(frame)
