"""Optional C versions of the market-data hot path's per-level work, behind pure-Python twins.

`_speedups` (a CPython extension built from `_speedups.c`) holds:
- `levels_from_json(data, price_scale, size_scale)`: a venue's JSON array of [price, size] decimal
  strings straight to exact integer levels; None when the input is not plain decimals that fit a signed
  64-bit integer, and the caller then takes its strict Python path (which converts exactly, big integers
  included, or rejects). Used by the Binance parser.
- `BookSide(descending)`: one side of an L2 book in int64 arrays, the twin of
  `order_book.PythonSide`. A level it cannot hold (a price or size beyond int64, a non-int) is refused
  without changing anything, and the `OrderBook` moves to its Python sides. Used by `OrderBook`.

When the extension is not built, both names are None and every caller uses its Python path, with the
same results (tests/unit/test_native.py holds them to that). `use_native(False)` switches callers to the
Python paths at run time (parsers at once, books when created or cleared), so tests and benchmarks can
compare the two in one process. Pure: no I/O, no clock, no state beyond that selection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradestack._native._speedups import BookSide

# (JSON bytes, or anything else exposing the buffer protocol; price scale; size scale)
LevelsFromJson = Callable[[object, int, int], list[tuple[int, int]] | None]

try:
    from tradestack._native import _speedups
except ImportError:  # not built (no compiler at install time, or a pure-Python install): Python paths
    BUILT = False
    _LEVELS_FROM_JSON: LevelsFromJson | None = None
    _BOOK_SIDE: type[BookSide] | None = None
else:
    BUILT = True
    _LEVELS_FROM_JSON = _speedups.levels_from_json
    _BOOK_SIDE = _speedups.BookSide

# What the callers use, read at each call: None means "take your Python path".
levels_from_json: LevelsFromJson | None = _LEVELS_FROM_JSON
book_side: type[BookSide] | None = _BOOK_SIDE


def use_native(enabled: bool = True) -> bool:
    """Use the C code (when built) or the Python paths; returns whether C is now in use."""
    global levels_from_json, book_side
    levels_from_json = _LEVELS_FROM_JSON if enabled else None
    book_side = _BOOK_SIDE if enabled else None
    return levels_from_json is not None


def native_in_use() -> bool:
    return levels_from_json is not None
