"""Hot-wallet exposure: the share, its cap, refused transfers audited, the metric."""

from __future__ import annotations

from fractions import Fraction

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tradestack.security.audit import WalletTransfer
from tradestack.security.hot_wallet import TO_COLD, TO_HOT, Holding, HotWallet, HotWalletCollector, units

pytestmark = pytest.mark.timeout(10)


def wallet(audited: list[WalletTransfer]) -> HotWallet:
    return HotWallet(
        {"BTC": Holding(units("100"), units("4")), "USDT": Holding(units("1000000"), units("10000"))},
        caps={"USDT": Fraction(2, 100)},
        audit=audited.append,
    )


def test_transfers_within_the_cap_pass_and_above_it_are_refused_and_audited() -> None:
    audited: list[WalletTransfer] = []
    hot = wallet(audited)
    assert hot.share("BTC") == Fraction(4, 100)

    allowed = hot.request_transfer("BTC", units("1"), TO_HOT)  # exactly 5%: at the cap is allowed
    assert allowed.allowed and hot.share("BTC") == Fraction(5, 100)
    refused = hot.request_transfer("BTC", units("0.00000001"), TO_HOT)
    assert not refused.allowed and "above the cap" in refused.reason
    assert hot.holding("BTC").hot == units("5")  # unchanged by a refusal

    usdt = hot.request_transfer("USDT", units("15000"), TO_HOT)  # its own cap: 2%
    assert not usdt.allowed
    assert hot.request_transfer("BTC", units("2"), TO_COLD).allowed
    assert not hot.request_transfer("BTC", units("50"), TO_COLD).allowed
    assert not hot.request_transfer("ETH", units("1"), TO_HOT).allowed
    assert not hot.request_transfer("BTC", 0, TO_HOT).allowed

    assert [record.decision for record in audited] == [
        "allowed",
        "refused",
        "refused",
        "allowed",
        "refused",
        "refused",
        "refused",
    ]
    assert audited[1].amount == "0.00000001" and audited[1].hot_share_after == "0.050000"


def test_a_share_above_the_cap_is_an_alert_and_exported() -> None:
    hot = wallet([])
    assert hot.over_cap() == []
    hot.set_holding("BTC", Holding(units("100"), units("7")))  # e.g. the total fell
    assert hot.over_cap() == ["BTC"]
    registry = CollectorRegistry()
    registry.register(HotWalletCollector(hot))
    text = generate_latest(registry).decode()
    assert 'tradestack_hot_wallet_share_ratio{asset="BTC"} 0.07' in text
    assert 'tradestack_hot_wallet_share_cap_ratio{asset="BTC"} 0.05' in text
    assert 'tradestack_hot_wallet_share_cap_ratio{asset="USDT"} 0.02' in text


def test_inconsistent_balances_are_refused() -> None:
    with pytest.raises(ValueError, match="hot <= total"):
        HotWallet({"BTC": Holding(units("1"), units("2"))})
