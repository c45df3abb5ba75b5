"""A shard's side of the firm risk service: report holdings a few times a second, obey the verdict.

Fail closed: until the first verdict arrives the shard does not trade (ordered start), and when no
verdict has arrived for `timeout_s` it stops trading and cancels its orders until one does. A kill
verdict latches the shard's own kill switch, which survives restarts like any other trip.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import structlog

from tradestack.app.risk_wire import REPORT_PATH, WireError, decode_verdict, encode_report
from tradestack.domain.risk.firm import ShardReport, Verdict
from tradestack.ports import Clock

log = structlog.get_logger("tradestack.risk_link")

LOST = None  # what on_verdict receives when the service has been silent past the timeout


class RiskLink:
    def __init__(
        self,
        url: str,
        interval_s: float,
        timeout_s: float,
        clock: Clock,
        build_report: Callable[[], ShardReport],
        on_verdict: Callable[[Verdict | None], None],
    ) -> None:
        self.url = url.rstrip("/") + REPORT_PATH
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._build_report = build_report
        self._on_verdict = on_verdict
        self.last_verdict: Verdict | None = None
        self._last_ok_ns: int | None = None
        self._failing = False
        self.lost = False

    @property
    def up(self) -> bool:
        return self._last_ok_ns is not None and not self.lost

    async def run(self) -> None:
        started = self.clock.monotonic_ns()
        # each request may take at most one interval (at least 100 ms): a slow answer is a late one
        request_timeout = aiohttp.ClientTimeout(total=max(self.interval_s, 0.1))
        async with aiohttp.ClientSession(timeout=request_timeout) as session:
            while True:
                verdict = await self._exchange(session)
                now = self.clock.monotonic_ns()
                if verdict is not None:
                    self._last_ok_ns = now
                    self.lost = False
                    self.last_verdict = verdict
                    self._on_verdict(verdict)
                else:
                    since = started if self._last_ok_ns is None else self._last_ok_ns
                    if now - since >= self.timeout_s * 1e9 and not self.lost:
                        self.lost = True
                        log.error(
                            "no verdict from the firm risk service: trading stopped, orders cancelled",
                            url=self.url,
                            silent_s=round((now - since) / 1e9, 3),
                        )
                        self._on_verdict(LOST)
                await asyncio.sleep(self.interval_s)

    async def _exchange(self, session: aiohttp.ClientSession) -> Verdict | None:
        body = json.dumps(encode_report(self._build_report()))
        try:
            async with session.post(
                self.url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                text = await response.text()
                if response.status != 200:
                    raise WireError(f"HTTP {response.status}: {text[:200]}")
                verdict = decode_verdict(json.loads(text))
        except (aiohttp.ClientError, TimeoutError, WireError, ValueError) as error:
            if not self._failing:  # once per outage, not once per attempt
                self._failing = True
                log.warning("firm risk service request failed", url=self.url, error=repr(error))
            return None
        if self._failing:
            self._failing = False
            log.info("firm risk service answering again", url=self.url)
        return verdict
