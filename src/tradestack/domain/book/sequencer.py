"""The sequencing decision for one depth event: apply it, skip it as stale, or declare a gap."""

from __future__ import annotations

from enum import Enum


class Decision(Enum):
    APPLY = "apply"
    SKIP = "skip"  # already covered by the snapshot or an earlier event
    GAP = "gap"  # continuity broken: this symbol must resync
