"""What the firm risk service exports. Integer amounts become floats only here, at export.

`trading_kill_switch_engaged` has the engines' name on purpose: the existing page alert on it covers
the firm latch too, and its `instance` label tells which one fired.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.firm import FirmExposure, FirmLimits

_UNIT = 10**ASSET_SCALE


class FirmRiskMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.kill_switch = Gauge(
            "trading_kill_switch_engaged", "1 while the kill switch is engaged.", registry=r
        )
        self.net_position = Gauge(
            "firm_risk_net_position", "Net position over all shards, in the asset.", ["asset"], registry=r
        )
        self.gross_notional = Gauge(
            "firm_risk_gross_notional",
            "Sum of |position x mark| over all shards, in the quote asset.",
            ["quote"],
            registry=r,
        )
        self.daily_pnl = Gauge(
            "firm_risk_daily_pnl", "PnL since the UTC day began, all shards.", ["quote"], registry=r
        )
        self.limit_usage = Gauge(
            "firm_risk_limit_usage_ratio",
            "Used fraction of each firm limit (1 = at the limit: the kill switch trips beyond it).",
            ["limit", "asset"],
            registry=r,
        )
        self.report_age = Gauge(
            "firm_risk_shard_report_age_seconds",
            "Seconds since each shard last reported.",
            ["shard"],
            registry=r,
        )
        self.reports = Counter(
            "firm_risk_reports_total", "Shard reports answered, by verdict.", ["verdict"], registry=r
        )
        self.malformed = Counter(
            "firm_risk_reports_malformed_total", "Shard reports refused as malformed.", registry=r
        )

    def set_exposure(self, exposure: FirmExposure, limits: FirmLimits) -> None:
        for asset, net in exposure.net_position.items():
            self.net_position.labels(asset).set(net / _UNIT)
            self._usage("max_net_position", asset, abs(net), limits.max_net_position.get(asset))
        for quote, gross in exposure.gross_notional.items():
            self.gross_notional.labels(quote).set(gross / _UNIT)
            self._usage("max_gross_notional", quote, gross, limits.max_gross_notional.get(quote))
        for quote, pnl in exposure.daily_pnl.items():
            self.daily_pnl.labels(quote).set(pnl / _UNIT)
            self._usage("daily_loss_limit", quote, max(0, -pnl), limits.daily_loss_limit.get(quote))

    def _usage(self, limit: str, asset: str, used: int, allowed: int | None) -> None:
        if allowed:
            self.limit_usage.labels(limit, asset).set(used / allowed)
