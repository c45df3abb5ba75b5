"""What a market feed does with a malformed frame: count it every time (a metric), log it once per
reason with a sample, so a bad stream cannot flood the logs, and drop it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradestack.domain.events import Malformed


class MalformedFrames:
    def __init__(self, count: Callable[[str], None], log: Any) -> None:
        """`count(reason)`: the feed observer's malformed counter; `log`: the feed's structlog logger."""
        self._count = count
        self._log = log
        self.seen: dict[str, int] = {}  # reason -> frames dropped for it

    def __call__(self, event: Malformed) -> None:
        self._count(event.reason)
        count = self.seen.get(event.reason, 0) + 1
        self.seen[event.reason] = count
        if count == 1:
            sample = event.sample[:200]
            self._log.warning("malformed market frame dropped", reason=event.reason, sample=sample)
