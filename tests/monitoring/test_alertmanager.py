"""The shipped Alertmanager config with the real amtool and a real Alertmanager: it loads, page goes to
the pager and chat to chat (for every alert in the rules), and a venue that is down does not also page
for the consequences (inhibition)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.support import (
    ALERTMANAGER_CONFIG,
    RULES,
    free_port,
    http_get,
    require,
    run,
    stop,
    wait_http,
)

RECEIVERS = {"page": "pager", "chat": "chat"}


def amtool() -> str:
    return require("amtool")


def routes_test(*labels: str, expect: str) -> None:
    run(
        amtool(),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={expect}",
        *labels,
    )


def test_amtool_accepts_the_config() -> None:
    output = run(amtool(), "check-config", str(ALERTMANAGER_CONFIG))
    assert "SUCCESS" in output and "2 receivers" in output


@pytest.mark.parametrize("severity", sorted(RECEIVERS))
def test_each_severity_reaches_its_receiver(severity: str) -> None:
    routes_test(f"severity={severity}", "alertname=Anything", "exchange=binance", expect=RECEIVERS[severity])


def test_a_wrong_receiver_is_detected() -> None:
    """--verify.receivers really verifies: page must not resolve to chat."""
    result = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
         "--verify.receivers=chat", "severity=page"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode != 0


def test_an_alert_without_severity_still_reaches_chat() -> None:
    routes_test("alertname=Unlabelled", expect="chat")


def test_every_shipped_alert_routes_by_its_severity() -> None:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                severity = rule["labels"]["severity"]
                routes_test(
                    f"alertname={rule['alert']}",
                    f"severity={severity}",
                    "exchange=binance",
                    expect=RECEIVERS[severity],
                )


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require("prometheus-alertmanager")
    port = free_port()
    with (tmp_path / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={ALERTMANAGER_CONFIG}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/-/ready", timeout=15, process=process)
            yield url
        finally:
            stop(process)


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": labels["alertname"]},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
        }
        for labels in alerts
    ]
    request = urllib.request.Request(
        url + "/api/v2/alerts", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def alert_states(url: str) -> dict[tuple[str, str], list[str]]:
    """(alertname, exchange or symbol) -> the alerts inhibiting it (empty: it notifies)."""
    alerts = json.loads(http_get(url + "/api/v2/alerts"))
    return {
        (a["labels"]["alertname"], a["labels"].get("symbol", a["labels"].get("exchange", ""))): a["status"][
            "inhibitedBy"
        ]
        for a in alerts
    }


def test_a_venue_that_is_down_does_not_also_page_for_each_symbol(alertmanager: str) -> None:
    down = {
        "alertname": "TradingWebSocketDown",
        "severity": "page",
        "exchange": "binance",
        "stream": "market",
    }
    stale = [
        {"alertname": "TradingMarketDataStale", "severity": "chat", "exchange": venue, "symbol": symbol}
        for venue, symbol in (("binance", "BTCUSDT"), ("binance", "ETHUSDT"), ("okx", "BTC-USDT"))
    ]
    no_fills = {"alertname": "TradingNoFills", "severity": "page", "exchange": "binance", "symbol": "SOLUSDT"}
    post_alerts(alertmanager, [down, *stale, no_fills])
    deadline = time.monotonic() + 10
    while True:
        states = alert_states(alertmanager)
        if len(states) == 5 and states[("TradingMarketDataStale", "BTCUSDT")]:
            break
        assert time.monotonic() < deadline, f"inhibition never applied: {states}"
        time.sleep(0.1)
    assert states[("TradingWebSocketDown", "binance")] == []
    assert states[("TradingMarketDataStale", "BTCUSDT")] and states[("TradingMarketDataStale", "ETHUSDT")]
    assert states[("TradingNoFills", "SOLUSDT")]
    # another venue's stale data is not explained by binance being down
    assert states[("TradingMarketDataStale", "BTC-USDT")] == []
