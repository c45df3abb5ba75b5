"""Optional C versions of the market-data hot path's per-level work, behind pure-Python twins.

`_speedups` (a CPython extension, `_speedups.c`) holds two functions:
- `levels_from_json(data, price_scale, size_scale)`: a venue's JSON array of [price, size] decimal
  strings straight to exact integer levels; None when the input is not plain decimals that fit a signed
  64-bit integer, and the caller then takes its strict Python path (which converts exactly, big integers
  included, or rejects). Used by the Binance parser.
- `apply_side(levels, prices, updates)`: one side of `OrderBook.apply` (dict + sorted list of Python
  ints, the same algorithm as `order_book._apply_side`, any int size). Used by `OrderBook`.

When the extension is not built, both names are None and every caller uses its Python path, with the
same results (tests/unit/test_native.py holds them to that). `use_native(False)` switches every caller
to the Python path at run time, so tests and benchmarks can compare the two in one process.
Pure: no I/O, no clock, no state beyond the selection below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# (JSON bytes or anything else exposing the buffer protocol, price scale, size scale)
LevelsFromJson = Callable[[object, int, int], list[tuple[int, int]] | None]
ApplySide = Callable[[dict[int, int], list[int], Iterable[tuple[int, int]], bool], None]

try:
    from tradestack._native import _speedups
except ImportError:  # not built (no compiler at install time, or a pure-Python install): Python paths
    BUILT = False
    _LEVELS_FROM_JSON: LevelsFromJson | None = None
    _APPLY_SIDE: ApplySide | None = None
else:
    BUILT = True
    _LEVELS_FROM_JSON = _speedups.levels_from_json
    _APPLY_SIDE = _speedups.apply_side

# What the callers use, read at each call: None means "take your Python path".
levels_from_json: LevelsFromJson | None = _LEVELS_FROM_JSON
apply_side: ApplySide | None = _APPLY_SIDE


def use_native(enabled: bool = True) -> bool:
    """Use the C functions (when built) or the Python paths; returns whether C is now in use."""
    global levels_from_json, apply_side
    levels_from_json = _LEVELS_FROM_JSON if enabled else None
    apply_side = _APPLY_SIDE if enabled else None
    return levels_from_json is not None


def native_in_use() -> bool:
    return levels_from_json is not None
