"""`tradestack paper --venue okx|coinbase|bybit`: the same engine through another venue's connector against
the built-in simulator speaking that venue's dialect (OKX v5: signed REST with the passphrase, `books`
with seqId and CRC32, the private `orders` channel; Coinbase Exchange: HMAC with the passphrase, the
ws-feed `level2_batch`, `matches`, heartbeats and the `user` channel; Bybit v5: X-BAPI signing,
`orderbook.50` chained by `u`, the private `order`/`execution`/`wallet` topics; Kraken: API-Sign with
nonces, WebSocket v2 `book` with CRC32, ws-auth `executions`/`balances` by token; Binance USD-M
futures: /fapi, depth chained by `pu`, ORDER_TRADE_UPDATE/ACCOUNT_UPDATE, drift on the signed
position; Binance COIN-M: the same over /dapi with inverse contracts, sized in whole contracts and
margined in the coin), over real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


VENUES = {
    "okx": ("BTC-USDT", "ETH-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
    "kraken": ("BTC/USDT", "ETH/USDT"),
    "binance-futures": ("BTCUSDT", "ETHUSDT"),
    "binance-coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),  # default sizes become whole contracts (for_venue)
}
# USD-M refuses an order under its MIN_NOTIONAL (100 USDT on BTCUSDT): the default 0.001 BTC is 60
EXTRA_CONFIG = {"binance-futures": "strategy:\n  order_size: {BTCUSDT: '0.002', ETHUSDT: '0.01'}\n"}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("venue", sorted(VENUES))
def test_paper_on_another_venue_trades_with_zero_drift(tmp_path: Path, venue: str) -> None:
    symbols = set(VENUES[venue])
    config = tmp_path / "paper.yaml"
    config.write_text("http:\n  port: 0\n" + EXTRA_CONFIG.get(venue, ""))
    log = tmp_path / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
    with log.open("wb") as stderr:  # a file: nobody has to keep draining a pipe
        process = subprocess.Popen(
            [sys.executable, "-m", "tradestack.cli", "paper", "--venue", venue, "--config", str(config),
             "--data-dir", str(tmp_path / "data"), "--no-view", "--duration", "25"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        )  # fmt: skip
    try:
        base = ""
        deadline = time.monotonic() + 30
        while not base:
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            if match := re.search(r"metrics on (http://\S+)/metrics", log.read_text(errors="replace")):
                base = match.group(1)
            time.sleep(0.1)
        fills: dict[str, float] = {}
        drift_seen_zero = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            metrics = scrape(base + "/metrics")
            fills = {
                labels["symbol"]: value
                for labels, value in metrics.get("trading_fills_total", [])
                if labels["exchange"] == venue
            }
            drift = {
                labels["symbol"]: value for labels, value in metrics.get("trading_position_drift_percent", [])
            }
            # balances come over REST every few seconds: drift is 0 once they have caught up
            if sum(fills.values()) >= 2 and set(drift) == symbols:
                drift_seen_zero = drift_seen_zero or all(value == 0 for value in drift.values())
                if drift_seen_zero:
                    break
            time.sleep(0.5)
        assert sum(fills.values()) >= 2, f"no fills on {venue} within the run: {fills}"
        assert drift_seen_zero, f"position drift never 0: {drift}"
        ages = {labels["symbol"]: v for labels, v in metrics["trading_market_data_age_seconds"]}
        assert set(ages) == symbols and all(0 <= v < 30 for v in ages.values())
        with urllib.request.urlopen(base + "/status.json", timeout=5) as response:
            status = json.loads(response.read())
        assert {stream["venue"] for stream in status["venues"]} == {venue}
        out, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert VENUES[venue][0] in out and "summary" in out
    assert '"event": "book synced"' in log.read_text()


def test_an_unsupported_venue_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradestack.cli", "paper", "--venue", "ftx", "--data-dir", str(tmp_path),
         "--duration", "1", "--no-view"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unsupported venue 'ftx'" in result.stderr and "binance, okx, coinbase" in result.stderr
