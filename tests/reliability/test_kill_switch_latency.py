"""Kill-switch latency, the short cut: from `trip_kill_switch` to the venue showing no open order, over
20 trials (tests/reliability/kill_switch_battery.py); the full 1,000 trials are
`scripts/kill_switch_latency.py`. The issue's target is cancel-all at the venue within 100 ms."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.kill_switch_battery import TARGET_S, run_kill_switch_trials

TRIALS = 20


@pytest.mark.timeout(90)
async def test_kill_switch_cancels_everything_at_the_venue_quickly(tmp_path: Path) -> None:
    report = await run_kill_switch_trials(TRIALS, seed=3, data_dir=tmp_path)
    latency = report["latency_ms"]
    print(
        f"kill-switch -> venue flat over {TRIALS} trials ({report['orders_per_trial']} orders): "
        f"p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms, max {latency['max']:.2f} ms"
    )
    assert report["failures"] == []  # every trial reached an empty venue book, the latch held
    assert report["reached_empty_book"] == TRIALS
    # the target holds for p50 on any machine; over 20 trials the tail is reported (a loaded 2-core CI
    # box), the full run (scripts/kill_switch_latency.py) asserts p99 over 1,000
    assert latency["p50"] <= TARGET_S * 1e3, f"p50 {latency['p50']:.1f} ms over the 100 ms target"
