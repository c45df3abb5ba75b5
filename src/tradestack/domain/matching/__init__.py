"""Price-time priority matching shared by the simulated venue and backtests (pure: stdlib only)."""

from tradestack.domain.matching.engine import MatchingEngine
from tradestack.domain.matching.types import (
    BookUpdate,
    CancelResult,
    OrderStatus,
    RejectReason,
    RestingOrder,
    SubmitResult,
    TimeInForce,
    Trade,
)

__all__ = [
    "BookUpdate",
    "CancelResult",
    "MatchingEngine",
    "OrderStatus",
    "RejectReason",
    "RestingOrder",
    "SubmitResult",
    "TimeInForce",
    "Trade",
]
