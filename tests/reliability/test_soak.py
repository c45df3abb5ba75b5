"""Soak, the short cut (~60 s): the engine as a child process paper-trades the simulated exchange
through fault proxies, takes a few toxics and one kill -9, and is sampled every second
(tests/reliability/soak_battery.py). Slopes need a long run (`make soak`, scripts/soak.py); here the
samples must exist in both engine processes, the engine must recover, and the journal must agree with
the venue: no client id twice, no fill lost or doubled, no balance drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.soak_battery import SHORT, Soak

pytestmark = pytest.mark.slow

SERIES = ("rss_bytes", "open_fds", "asyncio_tasks", "event_loop_lag_s", "queue_journal")


@pytest.mark.timeout(180)
async def test_a_short_soak_recovers_and_loses_nothing(tmp_path: Path) -> None:
    report = await Soak(SHORT, tmp_path).run()
    assert report["failures"] == []  # ready again after every toxic and the restart
    assert report["kills"] >= 1 and report["engine_processes"] == report["kills"] + 1
    assert report["toxics"] >= 2
    assert max(report["ready_after_start_s"].values()) < 10
    for name in SERIES:
        figures = report["series"][name]
        assert figures["segments"] == report["engine_processes"], (name, figures)
        assert figures["samples"] >= 10, (name, figures)
    assert report["series"]["rss_bytes"]["median"] > 10 * 1024 * 1024
    invariants = report["invariants"]
    assert invariants["duplicate_client_ids"] == 0, invariants
    assert invariants["lost_fills"] == 0 and invariants["fills_journaled_twice"] == 0, invariants
    assert invariants["balance_drift"] == {}, invariants
    assert invariants["open_at_venue_after_stop"] == 0
    assert invariants["passed"], invariants
