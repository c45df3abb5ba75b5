"""Logging: JSON lines to a file under the data dir, secrets blanked, repeats counted not logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tradestack.observability.logging import LogOnce, configure_logging, log_file_path
from tradestack.ports import ManualClock
from tradestack.security.redaction import redact_secrets
from tradestack.security.secrets import Secret

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = log_file_path(tmp_path / "data")
    handle = configure_logging(
        redactor=redact_secrets, log_file=path, to_stderr=False, level="info", clock=ManualClock()
    )
    yield path
    handle.close()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_lines_go_to_the_file_under_the_data_dir(log_file: Path) -> None:
    structlog.get_logger("test").info("book resynced", symbol="BTCUSDT", gap=3)
    structlog.get_logger("test").debug("below the level")

    assert log_file.parent.name == "logs"
    assert lines(log_file) == [
        {
            "event": "book resynced",
            "symbol": "BTCUSDT",
            "gap": 3,
            "level": "info",
            "timestamp": "2023-11-14T22:13:20.000000Z",
        }
    ]


def test_secrets_are_blanked_even_when_logged_by_mistake(log_file: Path) -> None:
    log = structlog.get_logger("test")
    log.info("signed", api_key="key-123", secret=Secret("s-456"), query="a=1&signature=deadbeef")
    try:
        raise RuntimeError("request failed: ?timestamp=1&signature=deadbeef")
    except RuntimeError:
        log.exception("order failed")

    text = log_file.read_text()
    assert "key-123" not in text
    assert "s-456" not in text
    assert "deadbeef" not in text
    first, second = lines(log_file)
    assert first["api_key"] == "***"
    assert first["secret"] == "***"
    assert first["query"] == "a=1&signature=***"
    assert "signature=***" in second["exception"]


def test_stderr_output(capsys: pytest.CaptureFixture[str]) -> None:
    handle = configure_logging(redactor=redact_secrets, to_stderr=True, clock=ManualClock())
    try:
        structlog.get_logger("test").warning("feed stale", symbol="ETHUSDT")
    finally:
        handle.close()

    record = json.loads(capsys.readouterr().err)
    assert record["event"] == "feed stale"
    assert record["level"] == "warning"


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        configure_logging(redactor=redact_secrets, level="verbose")


class RecordingLogger:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **context: Any) -> None:
        self.records.append((event, context))


def test_log_once_logs_the_first_with_context_and_counts_the_rest() -> None:
    logger = RecordingLogger()
    log_once = LogOnce(logger)

    assert log_once("binance:bad-depth", "malformed message", raw=b"{oops", symbol="BTCUSDT")
    assert not log_once("binance:bad-depth", "malformed message", raw=b"{oops2")
    assert not log_once("binance:bad-depth", "malformed message", raw=b"{oops3")
    assert log_once("binance:bad-trade", "malformed message", raw=b"[")

    assert logger.records == [
        ("malformed message", {"once_key": "binance:bad-depth", "raw": b"{oops", "symbol": "BTCUSDT"}),
        ("malformed message", {"once_key": "binance:bad-trade", "raw": b"["}),
    ]
    assert log_once.count("binance:bad-depth") == 3
    log_once.log_summary()
    assert logger.records[-1] == ("repeated log events", {"counts": {"binance:bad-depth": 3}})


def test_log_once_caps_the_number_of_keys() -> None:
    logger = RecordingLogger()
    log_once = LogOnce(logger, max_keys=2)

    for key in ("a", "b", "c", "d"):
        log_once(key, "malformed message")

    assert [context["once_key"] for _, context in logger.records] == ["a", "b", "(too many distinct keys)"]
    assert log_once.counts() == {"a": 1, "b": 1, "(too many distinct keys)": 2}
