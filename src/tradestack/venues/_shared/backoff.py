"""Reconnect backoff as a pure policy: capped exponential with full jitter.

delay = uniform(0, min(cap, base * 2**attempt))  ("full jitter", AWS Architecture Blog,
"Exponential Backoff And Jitter"). Jitter spreads the reconnects of many sessions that lost the
venue at the same moment, so they do not hammer it in lockstep. The policy never reads a clock or
sleeps: the caller passes durations in and sleeps for the delay it gets back.
"""

from __future__ import annotations

import random
from typing import Protocol

# 2.0**62 is still exact and finite; beyond it every realistic cap is already reached.
_MAX_EXPONENT = 62


class RandomSource(Protocol):
    """The one method we need from random.Random: a float in [0, 1)."""

    def random(self) -> float: ...


class Backoff:
    """Delays for consecutive failed connection attempts; reset once a connection proved healthy.

    `next_delay()` returns the seconds to wait before the next attempt and counts the attempt.
    `connection_ended(healthy_for_ns)` resets the count when the connection that just ended had
    stayed up for at least `reset_after_s`, so one drop after hours of service reconnects fast,
    while a venue that accepts and immediately drops keeps backing off.
    """

    __slots__ = ("_attempt", "_base", "_cap", "_reset_after_ns", "_rng")

    def __init__(
        self,
        base_s: float = 0.25,
        cap_s: float = 30.0,
        reset_after_s: float = 60.0,
        rng: RandomSource | None = None,
    ) -> None:
        if base_s <= 0 or cap_s <= 0:
            raise ValueError("base_s and cap_s must be positive")
        if base_s > cap_s:
            raise ValueError("base_s must not exceed cap_s")
        if reset_after_s < 0:
            raise ValueError("reset_after_s must not be negative")
        self._base = base_s
        self._cap = cap_s
        self._reset_after_ns = int(reset_after_s * 1e9)
        self._rng: RandomSource = rng if rng is not None else random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Failed attempts since the last reset (0 right after a reset)."""
        return self._attempt

    @property
    def cap_s(self) -> float:
        return self._cap

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the jitter window for a given attempt number."""
        return min(self._cap, self._base * 2.0 ** min(attempt, _MAX_EXPONENT))

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt, in [0, ceiling(attempt)); counts the attempt."""
        delay = self.ceiling(self._attempt) * self._rng.random()
        self._attempt += 1
        return delay

    def connection_ended(self, healthy_for_ns: int) -> None:
        """Report how long the connection that just ended had been up (and subscribed)."""
        if healthy_for_ns >= self._reset_after_ns:
            self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0
