"""The shipped Prometheus rules and config, checked with the real promtool: syntax, unit tests with
input series for every alert (firing and not firing), runbook links, and metric names that exist."""

from __future__ import annotations

import re
from typing import Any

import yaml
from prometheus_client import generate_latest

from monitoring.support import (
    PROMETHEUS_CONFIG,
    RULE_TESTS,
    RULES,
    RUNBOOK,
    require,
    run,
)
from tradestack.domain.events import Side
from tradestack.domain.risk.firm import FirmExposure, FirmLimits
from tradestack.observability.firm_metrics import FirmRiskMetrics
from tradestack.observability.metrics import Metrics
from tradestack.ports import ManualClock
from tradestack.security.hot_wallet import Holding, HotWallet, HotWalletCollector

FIRM_LIMITS = FirmLimits({"BTC": 10}, {"USDT": 10}, {"USDT": 10})

# The issue's alerts, by tier (plus TradestackTargetDown: every other alert is blind without it).
PAGE = {
    "TradingPositionDrift",
    "TradingNoFills",
    "TradingWebSocketDown",
    "TradingKillSwitchEngaged",
    "TradestackTargetDown",
    "TradestackHotWalletAboveCap",  # the security issue's hot-wallet cap
    "TradingRiskServiceUnreachable",  # a shard without the firm risk service trades nothing
}
CHAT = {
    "TradingFillLatencyHigh",
    "TradingRejectionRateHigh",
    "TradingRateLimitHigh",
    "TradingMarketDataStale",
    "TradingBookResyncsHigh",
    "TradingReconnectStorm",
    "FirmRiskLimitNear",
}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def full_registry_exposition() -> str:
    """Every metric with at least one child, as /metrics shows it."""
    metrics = Metrics(ManualClock())
    symbol = metrics.for_symbol("binance", "BTCUSDT")
    exchange = metrics.for_exchange("binance")
    stream = metrics.for_stream("binance", "market")
    symbol.fill(Side.BUY)
    symbol.set_quoting(True)
    symbol.set_market_data_age_bound(5)
    exchange.order_rejected("price_band")
    exchange.message_malformed("bad_json")
    stream.reconnected("stale")
    exchange.observe_fill_latency_ns(2_000_000)
    metrics.observe_tick_to_order_ns(80_000)
    metrics.set_component_state("engine", "running")
    metrics.set_process_health(0.002, 12, {"journal": 0, "commands_in_flight": 1})
    # the hot-wallet service exports its own gauges (a separate role with its own registry)
    wallet = HotWallet({"BTC": Holding(total=100 * 10**8, hot=4 * 10**8)})
    metrics.registry.register(HotWalletCollector(wallet))
    metrics.set_risk_link_up("http://risk-engine:9491", True)
    # the firm risk service's own registry (another process)
    firm = FirmRiskMetrics()
    firm.set_exposure(FirmExposure({"BTC": 1}, {"USDT": 1}, {"USDT": -1}), FIRM_LIMITS)
    firm_only = [  # its trading_kill_switch_engaged is the engines' metric, exported above
        line
        for line in generate_latest(firm.registry).decode().splitlines(keepends=True)
        if "trading_kill_switch_engaged" not in line
    ]
    return generate_latest(metrics.registry).decode() + "".join(firm_only)


def test_promtool_accepts_the_rules() -> None:
    output = run(require("promtool"), "check", "rules", str(RULES))
    assert f"SUCCESS: {len(rules())} rules found" in output


def test_promtool_accepts_the_prometheus_config_and_the_rules_it_loads() -> None:
    output = run(require("promtool"), "check", "config", str(PROMETHEUS_CONFIG))
    assert "is valid prometheus config file syntax" in output and "1 rule files found" in output


def test_promtool_unit_tests_pass() -> None:
    output = run(require("promtool"), "test", "rules", str(RULE_TESTS), cwd=RULE_TESTS.parent)
    assert "SUCCESS" in output


def test_the_issue_alerts_exist_in_two_tiers() -> None:
    found = {name: rule["labels"]["severity"] for name, rule in alerts().items()}
    assert found == {name: "page" for name in PAGE} | {name: "chat" for name in CHAT}


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        assert case.get("input_series"), f"{case['name']}: no input series"
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts()) - firing == set(), "alerts never tested firing"
    assert set(alerts()) - quiet == set(), "alerts never tested with exp_alerts: []"


def test_fill_latency_percentiles_are_recorded_per_exchange() -> None:
    recorded = {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}
    for quantile, name in (("0.50", "p50"), ("0.95", "p95"), ("0.99", "p99")):
        expr = recorded[f"exchange:trading_fill_latency_seconds:{name}_5m"]
        assert f"histogram_quantile({quantile}," in expr and "by (exchange, le)" in expr


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_links_its_runbook_entry() -> None:
    anchors = runbook_anchors()
    text = RUNBOOK.read_text()
    for name, rule in alerts().items():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        link = annotations["runbook_url"]
        assert link == f"docs/runbook.md#{name.lower()}", f"{name}: {link}"
        assert name.lower() in anchors, f"docs/runbook.md has no entry for {name}"
        entry = text.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        for part in ("**What it means.**", "**First checks.**", "**Recover.**"):
            assert part in entry, f"{name}: runbook entry lacks {part}"


def test_rules_name_only_metrics_that_tradestack_exports() -> None:
    exported = set(re.findall(r"^# TYPE (\S+)", full_registry_exposition(), flags=re.MULTILINE))
    series = exported | {f"{name}_bucket" for name in exported} | {f"{name}_total" for name in exported}
    named = {
        token
        for rule in rules()
        # recorded series (level:metric:operations) are not exported names: skip tokens after a colon
        for token in re.findall(r"(?<![:\w])trading_[a-z_]+\b", rule["expr"])
    }
    assert named, "no metric found in the rules"
    assert named - series == set(), f"rules name metrics tradestack does not export: {named - series}"


def test_promtool_check_metrics_accepts_our_exposition() -> None:
    # `promtool check metrics` lints names, types, help and suffixes; it prints problems and exits 1.
    output = run(require("promtool"), "check", "metrics", stdin=full_registry_exposition())
    assert output.strip() == ""
