"""The venue rate-limit policy: usage from response headers, waits to the next window, hard blocks."""

from __future__ import annotations

import pytest

from tradestack.venues._shared.rate_limit import LimitKind, RateLimiter, UsageLimit

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
T0 = 1_700_000_020 * SECOND  # 40 s into a minute on the venue's clock
WEIGHT_1M = UsageLimit(LimitKind.REQUEST_WEIGHT, MINUTE, 6000, header="X-MBX-USED-WEIGHT-1M")
ORDERS_10S = UsageLimit(LimitKind.ORDERS, 10 * SECOND, 100, header="X-MBX-ORDER-COUNT-10S")


def test_the_reported_weight_sets_the_usage_ratio() -> None:
    limiter = RateLimiter([WEIGHT_1M])
    assert limiter.usage_ratio(T0) == 0.0
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "1500"}, T0)
    assert limiter.usage_ratio(T0) == 0.25
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "garbage"}, T0)  # ignored, never raised
    assert limiter.usage_ratio(T0) == 0.25


def test_a_request_that_fits_goes_and_is_counted_before_its_response() -> None:
    limiter = RateLimiter([WEIGHT_1M], safety_ratio=1.0)
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "5990"}, T0)
    assert limiter.acquire(10, T0).allowed
    # The in-flight request already counts, so the next one must wait for the next minute.
    verdict = limiter.acquire(1, T0)
    assert not verdict.allowed
    assert verdict.wait_ns == 20 * SECOND
    assert verdict.reason == "REQUEST_WEIGHT 60s"
    assert limiter.acquire(1, T0 + 20 * SECOND).allowed  # a new window


def test_the_venue_count_only_raises_ours() -> None:
    limiter = RateLimiter([WEIGHT_1M])
    for _ in range(3):
        limiter.acquire(20, T0)
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "21"}, T0)  # a response to the first of three
    assert limiter.usage(T0)[0].used == 60


def test_the_safety_ratio_keeps_a_margin_below_the_venue_limit() -> None:
    limiter = RateLimiter([WEIGHT_1M], safety_ratio=0.9)
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "5390"}, T0)
    assert limiter.decide(10, T0).allowed
    assert not limiter.decide(11, T0).allowed


def test_decide_has_no_side_effect() -> None:
    limiter = RateLimiter([WEIGHT_1M])
    for _ in range(5):
        limiter.decide(1000, T0)
    assert limiter.usage_ratio(T0) == 0.0


def test_order_count_windows_are_separate_from_weight() -> None:
    limiter = RateLimiter([WEIGHT_1M, ORDERS_10S], safety_ratio=1.0)
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "10", "X-MBX-ORDER-COUNT-10S": "100"}, T0 + 3 * SECOND)
    assert limiter.decide(4, T0 + 3 * SECOND).allowed  # a query places no order
    verdict = limiter.decide(1, T0 + 3 * SECOND, orders=1)
    assert not verdict.allowed
    assert verdict.wait_ns == 7 * SECOND
    assert limiter.usage_ratio(T0 + 3 * SECOND) == 1.0


def test_retry_after_is_a_hard_block_until_then() -> None:
    limiter = RateLimiter([WEIGHT_1M])
    limiter.block(retry_after_seconds=120, now_ns=T0)
    verdict = limiter.decide(1, T0 + 30 * SECOND)
    assert not verdict.allowed
    assert verdict.wait_ns == 90 * SECOND
    assert verdict.wait_seconds == 90.0
    assert verdict.reason == "retry_after"
    # A new minute does not lift it: only the time the venue named does.
    assert not limiter.decide(1, T0 + 100 * SECOND).allowed
    assert limiter.decide(1, T0 + 120 * SECOND).allowed
    limiter.block(retry_after_seconds=1, now_ns=T0)  # a shorter block never shortens a longer one
    assert limiter.blocked_until_ns == T0 + 120 * SECOND


def test_a_429_without_retry_after_waits_out_the_weight_window() -> None:
    limiter = RateLimiter([WEIGHT_1M])
    limiter.block(retry_after_seconds=None, now_ns=T0)
    assert limiter.decide(1, T0).wait_ns == 20 * SECOND


def test_a_request_heavier_than_the_whole_budget_is_a_bug() -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.REQUEST_WEIGHT, MINUTE, 100)], safety_ratio=1.0)
    with pytest.raises(ValueError, match="never fit"):
        limiter.decide(101, T0)


def test_raw_request_limits_count_one_per_request() -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.RAW_REQUESTS, MINUTE, 2)], safety_ratio=1.0)
    assert limiter.acquire(50, T0).allowed
    assert limiter.acquire(50, T0).allowed
    assert not limiter.acquire(1, T0).allowed
