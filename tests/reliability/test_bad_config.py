"""Bad input, part 3: every kind of config mistake is named with its field and the fix, before anything
starts (issue 4, item 6). Through `tradestack validate-config FILE` (the CLI, in-process) and
`load_settings`, which `paper`/`live` call first."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradestack.cli import app
from tradestack.config import ConfigError, load_settings, validate_config_file

# (case, YAML, field path the error must name, words the fix must contain)
MISTAKES = [
    ("wrong type: text for a number", "risk:\n  max_orders_per_second: fast\n",
     "risk.max_orders_per_second", "whole number"),
    ("wrong type: list for a mapping", "strategy: [1, 2]\n", "strategy", "mapping"),
    ("wrong type: boolean for a decimal", "risk:\n  max_order_notional: true\n",
     "risk.max_order_notional", "number"),
    ("out of range: port", "http:\n  port: 70000\n", "http.port", "at most 65535"),
    ("out of range: zero seconds", "feed:\n  staleness_seconds: 0\n", "feed.staleness_seconds", "above 0"),
    ("out of range: snapshot limit", "feed:\n  snapshot_limit: 9999\n", "feed.snapshot_limit", "5000"),
    ("not finite: NaN seconds", "feed:\n  staleness_seconds: .nan\n", "feed.staleness_seconds", "finite"),
    ("absurd: 1e400", "risk:\n  max_order_notional: 1e400\n", "risk.max_order_notional", "plain digits"),
    ("negative size", "strategy:\n  order_size:\n    BTCUSDT: \"-0.001\"\n    ETHUSDT: \"0.01\"\n",
     "strategy.order_size.BTCUSDT", "greater than 0"),
    ("zero size", "risk:\n  max_order_size:\n    BTCUSDT: 0\n    ETHUSDT: \"0.1\"\n",
     "risk.max_order_size.BTCUSDT", "greater than 0"),
    ("unknown key (typo)", "risk:\n  max_order_notionl: 1000\n", "risk.max_order_notionl",
     "did you mean `max_order_notional`"),
    ("unknown top-level key", "venu: binance\n", "venu", "did you mean `venue`"),
    ("missing symbol limits", "symbols: [BTCUSDT, ETHUSDT, SOLUSDT]\n", "risk.max_order_size.SOLUSDT",
     "add `SOLUSDT"),
    ("limit for a symbol not traded", "symbols: [BTCUSDT]\n", "strategy.order_size.ETHUSDT",
     "add ETHUSDT to symbols"),
    ("lower-case symbol", "symbols: [btcusdt]\n", "symbols[0]", "write BTCUSDT"),
    ("unsupported venue", "venue: ftx\n", "venue", "one of: binance"),
    ("secret from the environment (value)", "secrets:\n  path: ${SECRETS_FILE}\n", "secrets.path",
     "never in the config or the environment"),
    ("secret from the environment (key)", "secrets:\n  api_key_env: BINANCE_KEY\n", "secrets.api_key_env",
     "secret store"),
    ("credential pasted in", "api_secret: abc123\n", "api_secret", "credentials never go in the config"),
    ("non-TLS secrets endpoint", "secrets:\n  store: aws\n  aws_endpoint_url: http://secrets.example.com\n",
     "secrets.aws_endpoint_url", "https://"),
    ("not a URL", "monitoring:\n  alertmanager_url: ftp://nowhere\n",
     "monitoring.alertmanager_url", "https://host:port"),
    ("inconsistent limits", "risk:\n  price_band_bps: 5\n", "risk.price_band_bps",
     "raise risk.price_band_bps"),
    ("bad YAML", "risk:\n  max_order_notional: 1000\n   daily_loss_limit: 5\n", "(yaml)", "fix the YAML"),
    ("duplicate key", "venue: binance\nvenue: binance\n", "(yaml)", "keep one"),
    ("not a mapping", "- venue\n", "(root)", "key: value"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "path", "hint"), MISTAKES, ids=[case for case, *_ in MISTAKES])
def test_each_mistake_names_the_field_and_the_fix(
    tmp_path: Path, case: str, text: str, path: str, hint: str
) -> None:
    config = tmp_path / "tradestack.yaml"
    config.write_text(text)
    problems = validate_config_file(config)
    assert path in [problem.path for problem in problems], (case, problems)
    named = [problem for problem in problems if problem.path == path]
    assert any(hint in problem.hint for problem in named), (case, named)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)  # what `paper` and `live` call before anything starts
    assert raised.value.problems == problems

    result = CliRunner().invoke(app, ["validate-config", str(config)])
    assert result.exit_code == 1, result.output
    assert path in result.output and "fix: " in result.output and hint in result.output


def test_the_loopback_test_servers_may_use_plain_http(tmp_path: Path) -> None:
    config = tmp_path / "tradestack.yaml"
    config.write_text("secrets:\n  store: aws\n  aws_endpoint_url: http://127.0.0.1:5000\n")
    assert validate_config_file(config) == []
    assert CliRunner().invoke(app, ["validate-config", str(config)]).exit_code == 0


def test_a_file_that_is_not_there_or_not_text_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert [p.path for p in validate_config_file(tmp_path / "absent.yaml")] == ["(file)"]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"venue: \xff\xfe\n")
    (problem,) = validate_config_file(binary)
    assert problem.path == "(file)" and "UTF-8" in problem.hint
