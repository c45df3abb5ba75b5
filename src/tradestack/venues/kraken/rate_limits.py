"""Kraken's published spot rate limits as decaying call counters (Kraken reports no usage back).

REST ("Spot REST Rate Limits"): each key has a call counter that starts at 0; every private call adds
1 (trade and ledger history add 2), and it decays continuously by tier. Past the tier's maximum Kraken
answers `EAPI:Rate limit exceeded`.

    tier          max   decay
    starter        15   0.33/s
    intermediate   20   0.5/s
    pro            20   1/s

Trading ("Spot Trading Limits"): AddOrder and CancelOrder do not count on that counter but on a
counter per pair, shared by REST, WebSocket and FIX: AddOrder adds 1, a cancel adds a penalty that
falls with the order's age (8 under 5 s ... 0 after 300 s). Thresholds 60/125/180, decay 1/2.34/3.75
per second by tier; past it `EOrder:Rate limit exceeded`.

Our own counters, held below the maximum by a safety margin, keep us under; `usage_ratio` is the
fullest counter's level over its maximum. Pure: the time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NS: Final = 1_000_000_000
# (age below which, penalty) for a cancel: the younger the order, the dearer its cancel
CANCEL_PENALTIES: Final = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
HISTORY_ENDPOINTS: Final = frozenset({"TradesHistory", "QueryTrades", "Ledgers", "QueryLedgers"})
TRADING_ENDPOINTS: Final = frozenset({"AddOrder", "CancelOrder"})


@dataclass(frozen=True, slots=True)
class Tier:
    rest_max: float
    rest_decay_per_s: float
    trading_max: float
    trading_decay_per_s: float


TIERS: Final = {
    "starter": Tier(15, 0.33, 60, 1.0),
    "intermediate": Tier(20, 0.5, 125, 2.34),
    "pro": Tier(20, 1.0, 180, 3.75),
}


def rest_cost(endpoint: str) -> int:
    """What a private REST call adds to the key's call counter (0: it counts on the trading counter)."""
    if endpoint in TRADING_ENDPOINTS:
        return 0
    return 2 if endpoint in HISTORY_ENDPOINTS else 1


def cancel_penalty(age_ns: int | None) -> int:
    """The trading counter's cost of cancelling an order this old (unknown age: the dearest)."""
    if age_ns is None:
        return CANCEL_PENALTIES[0][1]
    for below_s, penalty in CANCEL_PENALTIES:
        if age_ns < below_s * NS:
            return penalty
    return 0


class DecayCounter:
    """A counter that decays linearly to 0 and refuses to pass `maximum`.

    >>> counter = DecayCounter(15, 0.33)
    >>> counter.add(1, now_ns=0)
    0.0
    """

    __slots__ = ("_at_ns", "_level", "decay_per_s", "maximum")

    def __init__(self, maximum: float, decay_per_s: float) -> None:
        self.maximum = maximum
        self.decay_per_s = decay_per_s
        self._level = 0.0
        self._at_ns = 0

    def level(self, now_ns: int) -> float:
        elapsed_s = max(0, now_ns - self._at_ns) / NS
        return max(0.0, self._level - elapsed_s * self.decay_per_s)

    def add(self, cost: float, now_ns: int, limit: float | None = None) -> float:
        """Count `cost` and return 0.0, or count nothing and return the seconds until it would fit
        under `limit` (the maximum when None)."""
        ceiling = self.maximum if limit is None else limit
        level = self.level(now_ns)
        if level + cost > ceiling:
            return (level + cost - ceiling) / self.decay_per_s if self.decay_per_s > 0 else float("inf")
        self._level = level + cost
        self._at_ns = now_ns
        return 0.0

    def fill(self, now_ns: int) -> None:
        """The venue said we are over: count the counter full from now."""
        self._level = self.maximum
        self._at_ns = now_ns

    def usage_ratio(self, now_ns: int) -> float:
        return self.level(now_ns) / self.maximum if self.maximum else 0.0


class KrakenRateLimits:
    """One REST call counter for the key, one trading counter per pair.

    Queries stay under `safety_ratio` of the REST maximum. New orders stop at `order_ratio` of a pair's
    trading threshold while cancels may go up to `cancel_ratio`: quoting never spends the headroom a
    kill switch needs to take its orders off the book (a young order's cancel costs 8).
    """

    def __init__(
        self,
        tier: str | Tier = "starter",
        safety_ratio: float = 0.9,
        order_ratio: float = 0.75,
        cancel_ratio: float = 0.95,
    ) -> None:
        self.tier = TIERS[tier] if isinstance(tier, str) else tier
        self.safety_ratio = safety_ratio
        self.order_ratio = order_ratio
        self.cancel_ratio = cancel_ratio
        self.rest = DecayCounter(self.tier.rest_max, self.tier.rest_decay_per_s)
        self._trading: dict[str, DecayCounter] = {}

    def trading(self, pair: str) -> DecayCounter:
        counter = self._trading.get(pair)
        if counter is None:
            counter = DecayCounter(self.tier.trading_max, self.tier.trading_decay_per_s)
            self._trading[pair] = counter
        return counter

    def acquire(self, endpoint: str, pair: str, now_ns: int, cancel_age_ns: int | None = None) -> float:
        """Count one call; 0.0 when it may go, else the seconds to wait (nothing counted)."""
        if endpoint == "AddOrder":
            counter, cost, ratio = self.trading(pair), 1, self.order_ratio
        elif endpoint == "CancelOrder":
            counter, cost, ratio = self.trading(pair), cancel_penalty(cancel_age_ns), self.cancel_ratio
        else:
            counter, cost, ratio = self.rest, rest_cost(endpoint), self.safety_ratio
        if cost == 0:
            return 0.0
        return counter.add(cost, now_ns, counter.maximum * ratio)

    def usage_ratio(self, now_ns: int) -> float:
        ratios = [self.rest.usage_ratio(now_ns)]
        ratios.extend(counter.usage_ratio(now_ns) for counter in self._trading.values())
        return max(ratios)
