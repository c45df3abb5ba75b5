"""What a shard and the firm risk service say to each other: JSON over HTTP, integers only.

Amounts are integers at `scale` decimals (ASSET_SCALE), so no float ever carries money; a report with
another scale, a float, a bool where a number belongs or a missing field is refused whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.firm import ShardReport, Verdict

REPORT_PATH = "/v1/report"
KILL_PATH = "/v1/kill"
STATE_PATH = "/v1/state"


class WireError(ValueError):
    """A message that does not match the protocol; the text says which field and why."""


def encode_report(report: ShardReport) -> dict[str, Any]:
    return {
        "shard": report.shard,
        "scale": ASSET_SCALE,
        "positions": dict(report.positions),
        "gross_notional": dict(report.gross_notional),
        "pnl": dict(report.pnl),
        "kill_switch": report.kill_switch,
    }


def decode_report(message: object) -> ShardReport:
    if not isinstance(message, dict):
        raise WireError("a report is a JSON object")
    shard = message.get("shard")
    if not isinstance(shard, str) or not shard or len(shard) > 128:
        raise WireError("shard: a non-empty string of at most 128 characters")
    if message.get("scale") != ASSET_SCALE or isinstance(message.get("scale"), bool):
        raise WireError(f"scale: must be {ASSET_SCALE}")
    kill_switch = message.get("kill_switch")
    if not isinstance(kill_switch, bool):
        raise WireError("kill_switch: true or false")
    return ShardReport(
        shard,
        _amounts(message, "positions"),
        _amounts(message, "gross_notional"),
        _amounts(message, "pnl"),
        kill_switch,
    )


def _amounts(message: Mapping[str, object], name: str) -> dict[str, int]:
    values = message.get(name)
    if not isinstance(values, dict):
        raise WireError(f"{name}: an object of asset -> integer amount")
    for asset, amount in values.items():
        if not (isinstance(asset, str) and 0 < len(asset) <= 16):
            raise WireError(f"{name}: asset names are short strings")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise WireError(f"{name}.{asset}: an integer at scale {ASSET_SCALE}, got {amount!r}")
    return dict(values)


def encode_verdict(verdict: Verdict) -> dict[str, Any]:
    return {"allow": verdict.allow, "kill": verdict.kill, "reason": verdict.reason}


def decode_verdict(message: object) -> Verdict:
    if not isinstance(message, dict):
        raise WireError("a verdict is a JSON object")
    allow, kill, reason = message.get("allow"), message.get("kill"), message.get("reason", "")
    if not isinstance(allow, bool) or not isinstance(kill, bool) or not isinstance(reason, str):
        raise WireError("a verdict has allow and kill (booleans) and reason (a string)")
    return Verdict(allow and not kill, kill, reason)
