"""Firm-wide risk: the limits that apply to the sum of every trading shard.

Each shard checks its own orders before sending them (risk/engine.py, microseconds, in-process). What
no shard can see alone is the firm's total: two shards each inside their limits can together hold more
than the firm allows, or lose more in a day. The risk service (app/risk_service.py) receives every
shard's holdings a few times a second and asks this class for a verdict; a breach latches the firm's
kill switch, and every shard then latches its own and cancels everything.

Pure: reports and time come in as values. Units are integers at ASSET_SCALE of the asset concerned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tradestack.domain.instruments import InstrumentKind, pow10
from tradestack.domain.positions import ASSET_SCALE, Position

NANOS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ShardReport:
    """What one shard holds now. Positions per base asset, the rest per quote asset."""

    shard: str
    positions: Mapping[str, int]  # base asset -> net position
    gross_notional: Mapping[str, int]  # quote asset -> sum of |position x mark| over its symbols
    pnl: Mapping[str, int]  # quote asset -> realized + unrealized since the shard's journal began
    kill_switch: bool = False  # the shard's own latch


@dataclass(frozen=True, slots=True)
class FirmLimits:
    max_net_position: Mapping[str, int]  # base asset -> |sum of positions| allowed
    max_gross_notional: Mapping[str, int]  # quote asset -> sum of gross notional allowed
    daily_loss_limit: Mapping[str, int]  # quote asset -> loss since the UTC day began that trips


@dataclass(frozen=True, slots=True)
class Verdict:
    """allow: the shard may open risk. kill: latch your kill switch and cancel everything."""

    allow: bool
    kill: bool = False
    reason: str = ""


ALLOW = Verdict(True)


@dataclass(frozen=True, slots=True)
class FirmExposure:
    net_position: dict[str, int] = field(default_factory=dict)
    gross_notional: dict[str, int] = field(default_factory=dict)
    daily_pnl: dict[str, int] = field(default_factory=dict)


class FirmRisk:
    """Aggregates shard reports and latches the firm kill switch on any breach.

    A shard that goes quiet keeps its last report in the total: its positions do not vanish because it
    stopped talking. A shard's daily PnL is measured from its first report of the UTC day; those
    baselines (`day_start`) must survive a restart of the service, or a restart would forgive the day's
    losses so far — the caller persists them when `baselines_changed` says so.
    """

    def __init__(
        self,
        limits: FirmLimits,
        kill_reason: str = "",
        day: int = -1,
        day_start: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.limits = limits
        self.kill_reason = kill_reason
        self.day = day
        self.day_start: dict[tuple[str, str], int] = dict(day_start or {})
        self.shards: dict[str, ShardReport] = {}
        self.baselines_changed = False

    @property
    def killed(self) -> bool:
        return bool(self.kill_reason)

    def trip(self, reason: str) -> bool:
        """Latch the firm kill switch; True if this call changed the state."""
        if self.killed:
            return False
        self.kill_reason = reason or "engaged"
        return True

    def report(self, report: ShardReport, now_wall_ns: int) -> Verdict:
        """Take one shard's report into the total and answer that shard."""
        day = now_wall_ns // NANOS_PER_DAY
        if day != self.day:
            self.day = day
            self.day_start = {}
            self.baselines_changed = True
        for quote, pnl in report.pnl.items():
            if (report.shard, quote) not in self.day_start:
                self.day_start[(report.shard, quote)] = pnl
                self.baselines_changed = True
        self.shards[report.shard] = report
        if self.killed:
            return Verdict(False, True, self.kill_reason)
        breach = self._breach()
        if breach:
            self.trip(breach)
            return Verdict(False, True, self.kill_reason)
        missing = self._unlimited(report)
        if missing:  # fail closed for this shard only: an asset nobody set a firm limit for
            return Verdict(False, False, missing)
        return ALLOW

    def exposure(self) -> FirmExposure:
        exposure = FirmExposure()
        for shard in self.shards.values():
            for asset, size in shard.positions.items():
                exposure.net_position[asset] = exposure.net_position.get(asset, 0) + size
            for quote, gross in shard.gross_notional.items():
                exposure.gross_notional[quote] = exposure.gross_notional.get(quote, 0) + gross
            for quote, pnl in shard.pnl.items():
                start = self.day_start.get((shard.shard, quote), pnl)
                exposure.daily_pnl[quote] = exposure.daily_pnl.get(quote, 0) + pnl - start
        return exposure

    def _breach(self) -> str:
        exposure = self.exposure()
        limits = self.limits
        for asset, net in sorted(exposure.net_position.items()):
            limit = limits.max_net_position.get(asset)
            if limit is not None and abs(net) > limit:
                return f"firm net position {asset} {net} beyond limit {limit}"
        for quote, gross in sorted(exposure.gross_notional.items()):
            limit = limits.max_gross_notional.get(quote)
            if limit is not None and gross > limit:
                return f"firm gross notional {quote} {gross} beyond limit {limit}"
        for quote, daily in sorted(exposure.daily_pnl.items()):
            limit = limits.daily_loss_limit.get(quote)
            if limit is not None and daily <= -limit:
                return f"firm daily loss {quote} {daily} breached limit {limit}"
        return ""

    def _unlimited(self, report: ShardReport) -> str:
        for asset in sorted(report.positions):
            if asset not in self.limits.max_net_position:
                return f"no firm limit for {asset}: add it to firm_risk.max_net_position"
        for quote in sorted({*report.gross_notional, *report.pnl}):
            if quote not in self.limits.max_gross_notional:
                return f"no firm limit for {quote}: add it to firm_risk.max_gross_notional"
            if quote not in self.limits.daily_loss_limit:
                return f"no firm limit for {quote}: add it to firm_risk.daily_loss_limit"
        return ""


def shard_report(
    shard: str,
    positions: Mapping[str, Position],
    mids_x2: Mapping[str, int | None],
    kill_switch: bool,
) -> ShardReport:
    """A shard's holdings from its positions and twice the mid of each synced book (None: no mark,
    the position is valued at its cost). Sums per base and per quote asset, at ASSET_SCALE."""
    net: dict[str, int] = {}
    gross: dict[str, int] = {}
    pnl: dict[str, int] = {}
    for symbol, position in positions.items():
        inst = position.instrument
        mid_x2 = mids_x2.get(symbol)
        if mid_x2 is None:
            value, unrealized = abs(position.cost), 0
        elif inst.kind is InstrumentKind.INVERSE:  # valued in the coin (its quote), as its PnL is
            value = inst.coin_value(mid_x2, 2 * abs(position.size))
            unrealized = position.unrealized_at_mid(mid_x2)
        else:
            value = abs(mid_x2 * position.size) // 2
            unrealized = (mid_x2 * position.size - 2 * position.cost) // 2
        size = _to_asset_scale(position.size, inst.size_scale)
        net[inst.base] = net.get(inst.base, 0) + size
        gross[inst.quote] = gross.get(inst.quote, 0) + _to_asset_scale(value, inst.pnl_scale)
        total = position.realized + unrealized
        pnl[inst.quote] = pnl.get(inst.quote, 0) + _to_asset_scale(total, inst.pnl_scale)
    return ShardReport(shard, net, gross, pnl, kill_switch)


def _to_asset_scale(value: int, scale: int) -> int:
    # finer than ASSET_SCALE rounds down: toward the larger loss, never a smaller one
    if scale <= ASSET_SCALE:
        return value * pow10(ASSET_SCALE - scale)
    return value // pow10(scale - ASSET_SCALE)
