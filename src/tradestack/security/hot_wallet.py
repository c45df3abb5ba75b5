"""Hot-wallet exposure: how much of each asset sits where a compromised host could move it.

A separate role from trading: trading keys never have withdrawal rights (key_permissions.py), so
moving funds between cold storage and the hot wallet is done by this service alone, with its own
credentials, on its own host. Here is the pure part: configured total and hot balances per asset,
the hot share (exported as `tradestack_hot_wallet_share_ratio{asset}` beside its cap), and the
decision on a transfer — one that would lift the hot share above the cap (default 5%) is refused,
and every decision, allowed or refused, is an audit record.

Amounts are integers at 8 decimals (ASSET_SCALE); decimal strings are converted exactly at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from tradestack.domain.instruments import format_fixed, parse_fixed
from tradestack.domain.positions import ASSET_SCALE
from tradestack.security.audit import WalletTransfer

DEFAULT_CAP = Fraction(5, 100)
TO_HOT = "cold_to_hot"
TO_COLD = "hot_to_cold"


@dataclass(frozen=True, slots=True)
class Holding:
    total: int  # hot + cold, units of 10**-8
    hot: int


@dataclass(frozen=True, slots=True)
class TransferDecision:
    allowed: bool
    reason: str
    share_after: Fraction


def units(text: str) -> int:
    return parse_fixed(text, ASSET_SCALE)


def share(holding: Holding) -> Fraction:
    return Fraction(0) if holding.total <= 0 else Fraction(holding.hot, holding.total)


def _ratio_text(value: Fraction) -> str:
    return f"{float(value):.6f}"


class HotWallet:
    def __init__(
        self,
        holdings: Mapping[str, Holding],
        caps: Mapping[str, Fraction] | None = None,
        default_cap: Fraction = DEFAULT_CAP,
        audit: Callable[[WalletTransfer], None] | None = None,
    ) -> None:
        for asset, holding in holdings.items():
            if holding.hot < 0 or holding.total < holding.hot:
                raise ValueError(f"{asset}: need 0 <= hot <= total")
        if not 0 <= default_cap <= 1:
            raise ValueError("a cap is a share between 0 and 1")
        self._holdings = dict(holdings)
        self._caps = dict(caps or {})
        self._default_cap = default_cap
        self._audit = audit

    def holding(self, asset: str) -> Holding:
        return self._holdings[asset]

    def cap(self, asset: str) -> Fraction:
        return self._caps.get(asset, self._default_cap)

    def share(self, asset: str) -> Fraction:
        return share(self._holdings[asset])

    def over_cap(self) -> list[str]:
        """Assets whose hot share is above the cap now (an alert, whatever the cause)."""
        return sorted(asset for asset in self._holdings if self.share(asset) > self.cap(asset))

    def set_holding(self, asset: str, holding: Holding) -> None:
        """Balances observed from the custodian and the hot wallet (reconciliation)."""
        if holding.hot < 0 or holding.total < holding.hot:
            raise ValueError(f"{asset}: need 0 <= hot <= total")
        self._holdings[asset] = holding

    def request_transfer(self, asset: str, amount: int, direction: str) -> TransferDecision:
        """Decide (and audit) a transfer of `amount` units; on approval the holding is updated."""
        decision = self._decide(asset, amount, direction)
        if decision.allowed:
            holding = self._holdings[asset]
            delta = amount if direction == TO_HOT else -amount
            self._holdings[asset] = Holding(holding.total, holding.hot + delta)
        if self._audit is not None:
            self._audit(
                WalletTransfer(
                    asset=asset,
                    amount=format_fixed(amount, ASSET_SCALE),
                    direction=direction,
                    decision="allowed" if decision.allowed else "refused",
                    reason=decision.reason,
                    hot_share_after=_ratio_text(decision.share_after),
                )
            )
        return decision

    def _decide(self, asset: str, amount: int, direction: str) -> TransferDecision:
        holding = self._holdings.get(asset)
        if holding is None:
            return TransferDecision(False, f"no configured balance for {asset}", Fraction(0))
        current = share(holding)
        if amount <= 0:
            return TransferDecision(False, "the amount must be positive", current)
        if direction == TO_COLD:
            if amount > holding.hot:
                return TransferDecision(False, "more than the hot wallet holds", current)
            return TransferDecision(
                True, "to cold storage", share(Holding(holding.total, holding.hot - amount))
            )
        if direction != TO_HOT:
            return TransferDecision(False, f"unknown direction {direction!r}", current)
        if holding.hot + amount > holding.total:
            return TransferDecision(False, "more than the total held", current)
        after = share(Holding(holding.total, holding.hot + amount))
        cap = self.cap(asset)
        if after > cap:
            return TransferDecision(
                False, f"hot share would be {_ratio_text(after)}, above the cap {_ratio_text(cap)}", after
            )
        return TransferDecision(True, "within the cap", after)


class HotWalletCollector:
    """prometheus_client collector: `registry.register(HotWalletCollector(wallet))`."""

    def __init__(self, wallet: HotWallet) -> None:
        self._wallet = wallet

    def collect(self) -> Iterator[Metric]:
        shares = GaugeMetricFamily(
            "tradestack_hot_wallet_share_ratio", "Hot-wallet balance over total balance", labels=["asset"]
        )
        caps = GaugeMetricFamily(
            "tradestack_hot_wallet_share_cap_ratio", "Cap on the hot-wallet share", labels=["asset"]
        )
        for asset in sorted(self._wallet._holdings):
            shares.add_metric([asset], float(self._wallet.share(asset)))
            caps.add_metric([asset], float(self._wallet.cap(asset)))
        yield shares
        yield caps
