"""Venue rate limits as a pure policy: no clock reads, no sleeping, no I/O.

Venues count usage in fixed windows (Binance: request weight per minute, reported back on every
response as `X-MBX-USED-WEIGHT-1M`; order counts per 10 s and per day as `X-MBX-ORDER-COUNT-*`).
The limiter keeps our own running count per window (so concurrent requests are accounted before
their responses arrive), raises it to whatever the venue reports (other processes on the same IP
or account spend the same budget), and answers: may a request of weight W go now, or how long
must it wait. A 429/418 with `Retry-After` is a hard block until then: Binance bans IPs that keep
sending after a 429.

Times are integer nanoseconds on the venue's wall clock (our clock plus the measured server-time
offset): windows are aligned to the venue's epoch multiples (minute, 10 s, day boundaries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

SECOND_NS = 1_000_000_000


class LimitKind(StrEnum):
    REQUEST_WEIGHT = "REQUEST_WEIGHT"  # costs the request's weight
    ORDERS = "ORDERS"  # costs 1 per order placed
    RAW_REQUESTS = "RAW_REQUESTS"  # costs 1 per request


@dataclass(frozen=True, slots=True)
class UsageLimit:
    """One venue limit: at most `limit` units of `kind` per fixed window of `interval_ns`."""

    kind: LimitKind
    interval_ns: int
    limit: int
    header: str | None = None  # the response header carrying the venue's count for this window

    def __post_init__(self) -> None:
        if self.interval_ns <= 0 or self.limit <= 0:
            raise ValueError("interval_ns and limit must be positive")


@dataclass(frozen=True, slots=True)
class Verdict:
    """`allowed`, or wait `wait_ns` before asking again; `reason` names the binding constraint."""

    allowed: bool
    wait_ns: int = 0
    reason: str = ""

    @property
    def wait_seconds(self) -> float:
        return self.wait_ns / SECOND_NS


@dataclass(frozen=True, slots=True)
class Usage:
    kind: LimitKind
    interval_ns: int
    used: int
    limit: int


_ALLOWED = Verdict(True)


class _Window:
    __slots__ = ("budget", "spec", "start_ns", "used")

    def __init__(self, spec: UsageLimit, budget: int) -> None:
        self.spec = spec
        self.budget = budget
        self.start_ns = 0
        self.used = 0

    def roll(self, now_ns: int) -> None:
        interval = self.spec.interval_ns
        # Forward only: a clock that steps back (new server-time offset) must not forget usage.
        if now_ns - self.start_ns >= interval:
            self.start_ns = now_ns - now_ns % interval
            self.used = 0

    def cost(self, weight: int, orders: int) -> int:
        kind = self.spec.kind
        if kind is LimitKind.REQUEST_WEIGHT:
            return weight
        if kind is LimitKind.ORDERS:
            return orders
        return 1


class RateLimiter:
    """Tracks usage against a venue's limits and decides whether a request may go now.

    `safety_ratio` keeps a margin below the venue's limit (0.9 leaves 10% for clock skew between
    our window boundaries and the venue's, and for requests we cannot see).
    """

    def __init__(self, limits: Sequence[UsageLimit], safety_ratio: float = 0.9) -> None:
        if not 0 < safety_ratio <= 1:
            raise ValueError("safety_ratio must be in (0, 1]")
        self._windows = [_Window(spec, max(1, int(spec.limit * safety_ratio))) for spec in limits]
        self._blocked_until_ns = 0
        self._block_reason = ""

    @property
    def blocked_until_ns(self) -> int:
        """Venue time until which every request must wait (0 when never blocked)."""
        return self._blocked_until_ns

    def decide(self, weight: int, now_ns: int, orders: int = 0) -> Verdict:
        """Whether a request of `weight` (placing `orders` orders) may go at `now_ns`; no side effects
        beyond rolling windows forward."""
        if now_ns < self._blocked_until_ns:
            return Verdict(False, self._blocked_until_ns - now_ns, self._block_reason)
        wait_ns = 0
        reason = ""
        for window in self._windows:
            window.roll(now_ns)
            cost = window.cost(weight, orders)
            if cost == 0 or window.used + cost <= window.budget:
                continue
            if cost > window.budget:
                raise ValueError(f"a cost of {cost} can never fit {window.spec.kind} budget {window.budget}")
            until_next = min(window.start_ns + window.spec.interval_ns - now_ns, window.spec.interval_ns)
            if until_next > wait_ns:
                wait_ns = until_next
                reason = f"{window.spec.kind} {window.spec.interval_ns // SECOND_NS}s"
        return _ALLOWED if wait_ns == 0 else Verdict(False, wait_ns, reason)

    def acquire(self, weight: int, now_ns: int, orders: int = 0) -> Verdict:
        """`decide`, and when allowed count the request as sent."""
        verdict = self.decide(weight, now_ns, orders)
        if verdict.allowed:
            for window in self._windows:
                window.used += window.cost(weight, orders)
        return verdict

    def observe(self, headers: Mapping[str, str], now_ns: int) -> None:
        """Raise our counts to the venue's reported usage (response headers)."""
        for window in self._windows:
            name = window.spec.header
            if name is None:
                continue
            text = headers.get(name)
            if text is None:
                continue
            try:
                reported = int(text)
            except ValueError:
                continue  # a garbled header must not break order entry
            window.roll(now_ns)
            if reported > window.used:
                window.used = reported

    def observe_used(self, kind: LimitKind, interval_ns: int, used: int, now_ns: int) -> None:
        """Record a venue-reported count directly (e.g. from a WebSocket API `rateLimits` field)."""
        for window in self._windows:
            if window.spec.kind is kind and window.spec.interval_ns == interval_ns:
                window.roll(now_ns)
                window.used = max(window.used, used)

    def block(self, retry_after_seconds: float | None, now_ns: int, reason: str = "retry_after") -> None:
        """Hard block after a 429/418. Without Retry-After, wait out the longest weight window."""
        if retry_after_seconds is not None and retry_after_seconds >= 0:
            until = now_ns + int(retry_after_seconds * SECOND_NS)
        else:
            until = now_ns + SECOND_NS  # at least a second even when we know no window
            for window in self._windows:
                if window.spec.kind is LimitKind.REQUEST_WEIGHT:
                    window.roll(now_ns)
                    until = max(until, window.start_ns + window.spec.interval_ns)
        if until > self._blocked_until_ns:
            self._blocked_until_ns = until
            self._block_reason = reason

    def usage_ratio(self, now_ns: int) -> float:
        """The highest used/limit over all windows (against the venue's limit, not our budget)."""
        ratio = 0.0
        for window in self._windows:
            window.roll(now_ns)
            ratio = max(ratio, window.used / window.spec.limit)
        return ratio

    def usage(self, now_ns: int) -> list[Usage]:
        result = []
        for window in self._windows:
            window.roll(now_ns)
            spec = window.spec
            result.append(Usage(spec.kind, spec.interval_ns, window.used, spec.limit))
        return result
