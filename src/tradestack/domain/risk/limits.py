"""Risk limits in integer units, built from validated settings at the edge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    max_order_size: int  # size units
    max_position: int  # size units, absolute


@dataclass(frozen=True, slots=True)
class RiskLimits:
    per_symbol: dict[str, SymbolLimits]
    max_order_notional: int  # quote, at positions.ASSET_SCALE
    price_band_bps: int
    max_orders_per_second: int
    daily_loss_limit: int  # quote, at positions.ASSET_SCALE, positive number
    rate_window_ns: int = 1_000_000_000
