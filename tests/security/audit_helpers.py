"""Shared helpers for the audit tests: build a trail in a data dir and read it back."""

from __future__ import annotations

from pathlib import Path

from tradestack.security.audit import AuditLog, OrderSubmitted, default_sinks
from tradestack.security.secrets import Secret

KEY = Secret("audit-test-key-0123456789abcdef0123456789abcdef")


def write_trail(
    data_dir: Path, records: int, *, checkpoint_every: int = 10, database: bool = True, key: Secret = KEY
) -> None:
    log = AuditLog(default_sinks(data_dir, database=database), key, checkpoint_every=checkpoint_every)
    for number in range(records):
        log.record(OrderSubmitted(f"ts1-1-{number}", "BTCUSDT", "BUY", "50000.00", "0.001", "binance"))
    log.close()
