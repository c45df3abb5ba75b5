"""OKX v5 order-book checksum: signed CRC32 over the top 25 levels, interleaved bid:ask, exact strings.

As OKX documents: take up to 25 best bids and 25 best asks; for i in 0..24 append bid i's price and
size, then ask i's price and size, each only while that side has a level i; join with ":"; CRC32;
compare as a signed 32-bit integer. The strings are exactly as OKX sent them (no reformatting).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

DEPTH = 25
TextLevel = tuple[str, str]  # (price text, size text) exactly as received


def check_string(bids: Sequence[TextLevel], asks: Sequence[TextLevel], depth: int = DEPTH) -> str:
    """Best bids first (highest price first), best asks first (lowest first)."""
    parts: list[str] = []
    for index in range(depth):
        if index < len(bids):
            parts.append(bids[index][0])
            parts.append(bids[index][1])
        if index < len(asks):
            parts.append(asks[index][0])
            parts.append(asks[index][1])
    return ":".join(parts)


def to_signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def checksum(bids: Sequence[TextLevel], asks: Sequence[TextLevel], depth: int = DEPTH) -> int:
    """The signed 32-bit CRC32 OKX sends in `checksum`."""
    return to_signed32(zlib.crc32(check_string(bids, asks, depth).encode("ascii")))
