"""Firm-wide risk: limits on the sum of every shard, a latched kill, fail closed on unknown assets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.positions import ASSET_SCALE, Fill, Position
from tradestack.domain.risk.firm import (
    NANOS_PER_DAY,
    FirmLimits,
    FirmRisk,
    ShardReport,
    Verdict,
    shard_report,
)

UNIT = 10**ASSET_SCALE
BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.00001")
ETH = Instrument.from_steps("binance", "ETHUSDT", "ETH", "USDT", "0.01", "0.0001")
LIMITS = FirmLimits(
    max_net_position={"BTC": UNIT // 10, "ETH": UNIT},  # 0.1 BTC, 1 ETH
    max_gross_notional={"USDT": 10_000 * UNIT},
    daily_loss_limit={"USDT": 1_000 * UNIT},
)
DAY = 20_000 * NANOS_PER_DAY  # some UTC midnight


def report(shard: str, btc: float = 0, gross: int = 0, pnl: int = 0, **kw: bool) -> ShardReport:
    return ShardReport(shard, {"BTC": round(btc * UNIT)}, {"USDT": gross * UNIT}, {"USDT": pnl * UNIT}, **kw)


def test_shards_each_inside_but_together_beyond_the_net_limit_trip_the_firm_kill() -> None:
    firm = FirmRisk(LIMITS)
    assert firm.report(report("shard-0", btc=0.06), DAY) == Verdict(True)
    verdict = firm.report(report("shard-1", btc=0.06), DAY)
    assert verdict.kill and not verdict.allow
    assert "firm net position BTC" in verdict.reason
    # latched: every shard hears it from now on, even once the total is back inside
    assert firm.report(report("shard-0", btc=0), DAY).kill
    assert firm.report(report("shard-1", btc=0), DAY).kill


def test_opposite_positions_net_out() -> None:
    firm = FirmRisk(LIMITS)
    firm.report(report("shard-0", btc=0.08), DAY)
    assert firm.report(report("shard-1", btc=-0.08), DAY).allow
    assert firm.exposure().net_position == {"BTC": 0}


def test_gross_notional_is_summed_and_limited() -> None:
    firm = FirmRisk(LIMITS)
    firm.report(report("shard-0", gross=6_000), DAY)
    verdict = firm.report(report("shard-1", gross=5_000), DAY)
    assert verdict.kill and "gross notional USDT" in verdict.reason


def test_daily_loss_counts_from_each_shards_first_report_of_the_day() -> None:
    firm = FirmRisk(LIMITS)
    firm.report(report("shard-0", pnl=5_000), DAY)  # made 5,000 before today: not today's PnL
    firm.report(report("shard-1", pnl=-200), DAY + 1)
    assert firm.report(report("shard-0", pnl=4_500), DAY + 2).allow  # -500 today
    assert firm.exposure().daily_pnl == {"USDT": -500 * UNIT}
    verdict = firm.report(report("shard-1", pnl=-700), DAY + 3)  # -500 + -500
    assert verdict.kill and "daily loss USDT" in verdict.reason


def test_a_new_day_starts_from_where_the_last_one_ended() -> None:
    firm = FirmRisk(LIMITS)
    firm.report(report("shard-0", pnl=0), DAY)
    assert firm.report(report("shard-0", pnl=-999), DAY + NANOS_PER_DAY - 1).allow
    assert firm.report(report("shard-0", pnl=-1_500), DAY + NANOS_PER_DAY).allow  # new day: -501
    assert firm.exposure().daily_pnl == {"USDT": 0}  # baseline taken at the day's first report


def test_baselines_restored_after_a_restart_keep_the_days_losses() -> None:
    firm = FirmRisk(LIMITS)
    firm.report(report("shard-0", pnl=0), DAY)
    assert firm.baselines_changed
    restarted = FirmRisk(LIMITS, firm.kill_reason, firm.day, firm.day_start)
    assert restarted.report(report("shard-0", pnl=-1_000), DAY + 5).kill


def test_a_restored_latch_kills_every_shard() -> None:
    firm = FirmRisk(LIMITS, kill_reason="operator: test")
    verdict = firm.report(report("shard-0"), DAY)
    assert verdict == Verdict(False, True, "operator: test")


def test_an_asset_without_a_firm_limit_blocks_that_shard_and_says_where_to_add_it() -> None:
    firm = FirmRisk(LIMITS)
    verdict = firm.report(ShardReport("shard-0", {"SOL": 1}, {"USDT": 0}, {"USDT": 0}), DAY)
    assert verdict == Verdict(False, False, "no firm limit for SOL: add it to firm_risk.max_net_position")
    assert firm.report(report("shard-1"), DAY).allow  # the other shards trade on
    verdict = firm.report(ShardReport("shard-2", {}, {"EUR": 0}, {}), DAY)
    assert not verdict.allow and "firm_risk.max_gross_notional" in verdict.reason


def test_manual_trip_is_latched_and_idempotent() -> None:
    firm = FirmRisk(LIMITS)
    assert firm.trip("operator: drill")
    assert not firm.trip("again")
    assert firm.kill_reason == "operator: drill"


def test_shard_report_sums_positions_marks_and_pnl_per_asset() -> None:
    btc, eth = Position(BTC), Position(ETH)
    btc.apply(Fill("BTCUSDT", 1, "c", Side.BUY, BTC.price("50000.00"), BTC.size("0.02"), 0, "USDT", 0))
    eth.apply(Fill("ETHUSDT", 2, "d", Side.SELL, ETH.price("3000.00"), ETH.size("0.5"), 0, "USDT", 0))
    mids = {"BTCUSDT": 2 * BTC.price("51000.00"), "ETHUSDT": None}  # ETH book not synced: at cost
    shard = shard_report("shard-0", {"BTCUSDT": btc, "ETHUSDT": eth}, mids, kill_switch=False)
    assert shard.positions == {"BTC": 2 * UNIT // 100, "ETH": -UNIT // 2}
    assert shard.gross_notional == {"USDT": (1_020 + 1_500) * UNIT}
    assert shard.pnl == {"USDT": 20 * UNIT}  # 0.02 x (51,000 - 50,000); ETH unmarked: 0


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-(10**7), 10**7)), max_size=40))
def test_the_kill_trips_exactly_when_some_total_is_beyond_its_limit(
    moves: list[tuple[str, int]],
) -> None:
    firm = FirmRisk(LIMITS)
    held: dict[str, int] = {}
    for shard, btc in moves:
        held[shard] = btc
        verdict = firm.report(ShardReport(shard, {"BTC": btc}, {}, {}), DAY)
        beyond = abs(sum(held.values())) > LIMITS.max_net_position["BTC"]
        if beyond:
            assert verdict.kill
        if not firm.killed:
            assert verdict.allow and not beyond
