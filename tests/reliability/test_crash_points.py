"""Kill -9, the short cut: each named crash point twice and three random kills, each kind on its own venue
and data dir, then a clean restart and the verdict. The full counts (500 random, 50 per point) run in
`scripts/crash_battery.py`; the battery itself is tests/reliability/crash_battery.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.crash_battery import KINDS, READY_BOUND_S, SHORT, run_crash_battery
from tradestack.store import crash_points

pytestmark = pytest.mark.slow

SEED = 4242


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
async def test_kill_9_loses_no_fill_and_sends_no_id_twice(kind: str, tmp_path: Path) -> None:
    seed = SEED + KINDS.index(kind)
    print(f"crash battery seed {seed} ({kind})")  # a failing seed becomes a regression test
    report = await run_crash_battery(SHORT, seed, tmp_path, kinds=(kind,), log=print)
    figures = report["kinds"][kind]
    assert figures["trials"] == SHORT.trials(kind)
    assert figures["reached"] == figures["trials"], figures  # every kill landed where it was meant to
    assert figures["lost_fills"] == 0, figures  # each venue fill in the journal exactly once
    assert figures["duplicate_ids"] == 0, figures  # no client order id accepted twice by the venue
    assert figures["max_drift"] == 0, figures  # the journal's balances are the venue's
    assert figures["max_drift_gauge_percent"] == 0.0, figures  # and the engine's, after reconciling
    assert figures["ready_s"]["max"] < READY_BOUND_S, figures
    assert report["violations"] == []
    if kind in ("after_send", "after_ack"):  # the kill came after the order left: the venue has it
        assert figures["crash_point_order_at_venue"] == figures["trials"] - figures["deferred_sends"]
    elif kind in ("before_intent", "after_intent"):  # and before: the venue never saw it
        assert figures["crash_point_order_at_venue"] == 0


def test_unarmed_crash_points_cost_one_check() -> None:
    crash_points.arm(None)
    assert crash_points.armed is False
    crash_points.arm("after_send:3")
    try:
        assert crash_points.armed is True
        crash_points.reached("after_ack")  # another point: not counted, nothing happens
        crash_points.reached("after_send")
        crash_points.reached("after_send")  # the 3rd would kill this process
    finally:
        crash_points.arm(None)
    assert crash_points.armed is False
    with pytest.raises(crash_points.CrashSpecError):
        crash_points.arm("after_lunch:1")
    with pytest.raises(crash_points.CrashSpecError):
        crash_points.arm("after_send:0")
