"""Kraken's published spot rate limits, enforced as decaying counters (Spot REST / Trading Limits).

REST: one call counter per key; +1 a call, +2 for trade and ledger history; decays by tier
(starter: max 15, -0.33/s). Past the max: `EAPI:Rate limit exceeded`. AddOrder and CancelOrder count
instead on a counter per pair: AddOrder +1, a cancel +8 (order younger than 5 s) down to 0 (older than
300 s); starter: threshold 60, -1/s. Past it: `EOrder:Rate limit exceeded`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradestack.venues.simulated_kraken.errors import KrakenError

_PENALTIES = ((5_000, 8), (10_000, 6), (15_000, 5), (45_000, 4), (90_000, 2), (300_000, 1))


@dataclass(frozen=True, slots=True)
class Limits:
    rest_max: float = 15
    rest_decay_per_s: float = 0.33
    trading_max: float = 60
    trading_decay_per_s: float = 1.0


class _Counter:
    def __init__(self) -> None:
        self.level = 0.0
        self.at_ms = 0

    def add(self, cost: float, maximum: float, decay_per_s: float, now_ms: int) -> bool:
        level = max(0.0, self.level - (now_ms - self.at_ms) / 1000 * decay_per_s)
        self.at_ms = now_ms
        if level + cost > maximum:
            self.level = level
            return False
        self.level = level + cost
        return True


class CallCounters:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._rest: dict[str, _Counter] = {}
        self._trading: dict[tuple[str, str], _Counter] = {}
        self.refused = 0

    def rest(self, api_key: str, endpoint: str, now_ms: int) -> None:
        cost = 2 if endpoint in ("TradesHistory", "QueryTrades", "Ledgers", "QueryLedgers") else 1
        counter = self._rest.setdefault(api_key, _Counter())
        if not counter.add(cost, self.limits.rest_max, self.limits.rest_decay_per_s, now_ms):
            self.refused += 1
            raise KrakenError("EAPI:Rate limit exceeded")

    def trading(self, api_key: str, symbol: str, now_ms: int, cancel_age_ms: int | None = None) -> None:
        cost = 1
        if cancel_age_ms is not None:
            cost = next((penalty for below, penalty in _PENALTIES if cancel_age_ms < below), 0)
        counter = self._trading.setdefault((api_key, symbol), _Counter())
        if not counter.add(cost, self.limits.trading_max, self.limits.trading_decay_per_s, now_ms):
            self.refused += 1
            raise KrakenError("EOrder:Rate limit exceeded")
