"""Books under faults, the short cut: every toxic once or twice; the full counts run in
`scripts/reliability.py` (`make reliability`)."""

from __future__ import annotations

import pytest

from reliability.books_battery import SHORT, STALENESS_CHECK_S, STALENESS_S, run_books_battery


@pytest.mark.timeout(60)
async def test_books_stay_exact_under_every_fault() -> None:
    report = await run_books_battery(SHORT, seed=3)
    assert report["failures"] == []
    assert report["detected"] == report["injected"]  # every gap and every dead connection detected
    for kind, figures in report["kinds"].items():
        assert figures["gaps_seen"] == figures["gaps_expected"], kind
    assert report["violation_count"] == 0, report["violations"]  # nothing crossed or unsynced traded
    assert report["post_resync_compares"] >= report["injected"]
    assert report["post_resync_equal"] == report["post_resync_compares"]  # 100%
    assert report["full_compares_equal"] == report["full_compares"]
    # staleness: the configured bound, the check period and generous slack for a loaded machine
    assert report["staleness"]["detect_s_max"] <= STALENESS_S + STALENESS_CHECK_S + 1.5
