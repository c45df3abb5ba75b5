"""Kraken WS v2 `book` checksum: CRC32 (unsigned) over the top 10 asks, then the top 10 bids.

As Kraken documents: for each of the 10 best asks (price ascending), then each of the 10 best bids
(price descending), take the price and the quantity as decimal text at the pair's full precision,
remove the '.', strip leading zeros, and concatenate; CRC32 of the whole string.

Text at the pair's precision with the point removed and leading zeros stripped is exactly the
decimal representation of the integer units at that precision, so our integer book needs no strings:
`checksum_of_units` gives the same value as `checksum_of_text` over the padded strings.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from tradestack.domain.events import Level

DEPTH = 10


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def checksum_of_text(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> int:
    """Over strings already at the pair's precision (e.g. "45285.2", "0.00100000"), best first."""
    parts = [_digits(price) + _digits(qty) for price, qty in asks[:DEPTH]]
    parts.extend(_digits(price) + _digits(qty) for price, qty in bids[:DEPTH])
    return zlib.crc32("".join(parts).encode("ascii"))


def _unit_digits(value: int) -> str:
    return str(value) if value else ""  # "0.0" -> "00" -> "" after stripping


def checksum_of_units(asks: Sequence[Level], bids: Sequence[Level]) -> int:
    """Over integer units at the pair's precision (price_precision, qty_precision), best first."""
    parts = [_unit_digits(price) + _unit_digits(qty) for price, qty in asks[:DEPTH]]
    parts.extend(_unit_digits(price) + _unit_digits(qty) for price, qty in bids[:DEPTH])
    return zlib.crc32("".join(parts).encode("ascii"))
