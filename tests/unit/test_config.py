"""Settings: embedded defaults, one problem per bad field with its path and a fix, no environment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradestack.config import (
    ConfigError,
    ConfigProblem,
    Settings,
    load_settings,
    render_problems,
    validate_config_file,
)

pytestmark = pytest.mark.timeout(10)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tradestack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_in(tmp_path: Path, text: str) -> dict[str, ConfigProblem]:
    problems = validate_config_file(write(tmp_path, text))
    assert problems, "expected the config to be rejected"
    for problem in problems:
        assert problem.message, problem
        assert problem.hint, problem
    return {problem.path: problem for problem in problems}


def test_no_file_means_the_embedded_defaults() -> None:
    settings = load_settings(None)

    assert settings == Settings()
    assert settings.venue == "binance"
    assert settings.symbols == ("BTCUSDT", "ETHUSDT")
    assert settings.data_dir == Path("tradestack-data")
    assert settings.strategy.half_spread_bps == Decimal(1)
    assert settings.strategy.order_size == {"BTCUSDT": Decimal("0.001"), "ETHUSDT": Decimal("0.01")}
    assert settings.risk.max_order_notional == Decimal(1000)
    assert settings.risk.daily_loss_limit == Decimal(500)
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 9490)
    assert settings.feed.snapshot_limit == 1000
    assert settings.simulator.seed == 7
    assert settings.secrets_path == Path("tradestack-data") / "secrets.json"


def test_an_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing set\n")) == Settings()


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
data_dir: /var/lib/tradestack
http:
  port: 0
strategy:
  half_spread_bps: 7.5
""",
        )
    )

    assert settings.data_dir == Path("/var/lib/tradestack")
    assert settings.http.port == 0
    assert settings.strategy.half_spread_bps == Decimal("7.5")
    assert settings.risk == Settings().risk
    assert settings.secrets_path == Path("/var/lib/tradestack/secrets.json")


def test_yaml_numbers_become_exact_decimals_through_their_text(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
strategy:
  order_size: {BTCUSDT: 0.001, ETHUSDT: "0.01"}
risk:
  max_order_notional: 1000.10
simulator:
  start_prices: {BTCUSDT: 60000.1, ETHUSDT: 1E+3}
""",
        )
    )

    assert settings.strategy.order_size["BTCUSDT"] == Decimal("0.001")
    assert str(settings.strategy.order_size["BTCUSDT"]) == "0.001"
    assert settings.risk.max_order_notional == Decimal("1000.1")
    assert str(settings.simulator.start_prices["BTCUSDT"]) == "60000.1"
    assert str(settings.simulator.start_prices["ETHUSDT"]) == "1000"  # plain notation, not "1E+3"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.venue = "kraken"


@pytest.mark.parametrize(
    ("yaml_text", "path", "message_part", "hint_part"),
    [
        ("venue: deribit\n", "venue", "unsupported venue 'deribit'; valid venues: binance, okx, coin", "okx"),
        ("symbols: [btcusdt]\n", "symbols[0]", "must be uppercase", "write BTCUSDT"),
        ("symbols: []\n", "symbols", "no symbols", "at least one"),
        (
            "strategy:\n  half_spread_bps: -1\n",
            "strategy.half_spread_bps",
            "greater than 0",
            "greater than 0",
        ),
        (
            "strategy:\n  order_size: {BTCUSDT: abc, ETHUSDT: '0.01'}\n",
            "strategy.order_size.BTCUSDT",
            "'abc' is not a decimal number",
            '"0.001"',
        ),
        (
            "risk:\n  max_order_size: {BTCUSDT: '0', ETHUSDT: '0.1'}\n",
            "risk.max_order_size.BTCUSDT",
            "greater than 0",
            "greater than 0",
        ),
        ("risk:\n  daily_loss_limit: nan\n", "risk.daily_loss_limit", "not a finite number", "decimal"),
        ("risk:\n  max_orders_per_second: 1.5\n", "risk.max_orders_per_second", "integer", "whole number"),
        ("http:\n  port: 70000\n", "http.port", "65535", "at most 65535"),
        ("feed:\n  staleness_seconds: 0\n", "feed.staleness_seconds", "greater than 0", "above 0"),
        ("secrets:\n  store: vault\n", "secrets.store", "'file'", "one of: 'file'"),
        ("strategy:\n  half_sprad_bps: 3\n", "strategy.half_sprad_bps", "unknown setting", "half_spread_bps"),
        ("strategy: fast\n", "strategy", "valid dictionary", "mapping"),
        ("symbols: BTCUSDT\n", "symbols", "valid tuple", "list"),
    ],
)
def test_each_bad_field_is_named_with_a_fix(
    tmp_path: Path, yaml_text: str, path: str, message_part: str, hint_part: str
) -> None:
    problems = problems_in(tmp_path, yaml_text)

    assert path in problems, render_problems(list(problems.values()))
    assert message_part in problems[path].message
    assert hint_part in problems[path].hint


@pytest.mark.parametrize(
    ("yaml_text", "path", "message_part", "hint_part"),
    [
        (
            "symbols: [BTCUSDT, ETHUSDT, SOLUSDT]\n",
            "strategy.order_size.SOLUSDT",
            "SOLUSDT is in symbols but has no entry here",
            'add `SOLUSDT: "0.001"` under strategy.order_size',
        ),
        (
            "simulator:\n  start_prices: {BTCUSDT: '1', ETHUSDT: '1', BTCUSD: '1'}\n",
            "simulator.start_prices.BTCUSD",
            "not in symbols",
            "check the spelling",
        ),
        ("symbols: [BTCUSDT, BTCUSDT]\n", "symbols[1]", "listed twice", "once"),
        (
            "risk:\n  max_order_size: {BTCUSDT: '0.0001', ETHUSDT: '0.1'}\n",
            "risk.max_order_size.BTCUSDT",
            "below strategy.order_size.BTCUSDT (0.001)",
            "raise risk.max_order_size.BTCUSDT to at least 0.001",
        ),
        (
            "risk:\n  max_position: {BTCUSDT: '0.005', ETHUSDT: '0.2'}\n",
            "risk.max_position.BTCUSDT",
            "below strategy.max_inventory.BTCUSDT (0.01)",
            "at least 0.01",
        ),
        (
            "strategy:\n  max_inventory: {BTCUSDT: '0.0005', ETHUSDT: '0.1'}\n",
            "strategy.max_inventory.BTCUSDT",
            "below the order size 0.001",
            "at least 0.001",
        ),
        (
            "risk:\n  max_order_notional: '50'\n",
            "risk.max_order_notional",
            "worth 60.000",
            "at least 60.000",
        ),
        ("risk:\n  price_band_bps: 11\n", "risk.price_band_bps", "11 bps", "above 11"),
        (
            "feed:\n  backoff_initial_seconds: 30\n",
            "feed.backoff_initial_seconds",
            "above backoff_max_seconds",
            "at most",
        ),
        ("feed:\n  pong_timeout_seconds: 10\n", "feed.pong_timeout_seconds", "not below", "shorter"),
    ],
)
def test_cross_field_rules_name_the_field_to_change(
    tmp_path: Path, yaml_text: str, path: str, message_part: str, hint_part: str
) -> None:
    problems = problems_in(tmp_path, yaml_text)

    assert path in problems, render_problems(list(problems.values()))
    assert message_part in problems[path].message
    assert hint_part in problems[path].hint


def test_every_problem_is_reported_at_once_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """venue: deribit
strategy:
  half_spread_bps: -1
http:
  port: -5
""",
    )

    problems = validate_config_file(path)

    assert [(problem.path, problem.line) for problem in problems] == [
        ("venue", 1),
        ("strategy.half_spread_bps", 3),
        ("http.port", 5),
    ]
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.problems == problems
    text = str(raised.value)
    assert text.startswith(f"{path}: 3 problems")
    assert f"{path}:3: strategy.half_spread_bps: must be greater than 0, got -1" in text
    assert "fix: use a value greater than 0" in text


def test_direct_construction_also_runs_the_cross_checks() -> None:
    with pytest.raises(ValueError, match=r"risk\.max_order_size\.BTCUSDT: .* below strategy\.order_size"):
        Settings.model_validate({"risk": {"max_order_size": {"BTCUSDT": "0.0001", "ETHUSDT": "0.1"}}})


@pytest.mark.parametrize(
    ("yaml_text", "path"),
    [
        ("secrets:\n  api_key_env: BINANCE_API_KEY\n", "secrets.api_key_env"),
        ("secrets:\n  env: BINANCE_API_KEY\n", "secrets.env"),
        ("secrets:\n  path: ${SECRETS_FILE}\n", "secrets.path"),
        ("data_dir: $HOME/tradestack\n", "data_dir"),
        ("secrets:\n  path: env:SECRETS_FILE\n", "secrets.path"),
        ("venue: ${VENUE}\n", "venue"),
        ("symbols: [BTCUSDT, $SECOND_SYMBOL]\n", "symbols[1]"),
    ],
)
def test_environment_variable_references_are_rejected_with_why(
    tmp_path: Path, yaml_text: str, path: str
) -> None:
    problems = validate_config_file(write(tmp_path, yaml_text))

    # Reported once, as an environment reference, not also as an unknown key or a bad value.
    assert [problem.path for problem in problems] == [path]
    assert "environment" in problems[0].message
    assert "secret store" in problems[0].hint


def test_a_credential_pasted_into_the_config_is_not_echoed(tmp_path: Path) -> None:
    problems = validate_config_file(write(tmp_path, "api_key: AKIAxxxxSECRETVALUE\n"))

    assert [problem.path for problem in problems] == ["api_key"]
    assert "credentials never go in the config" in problems[0].hint
    assert "SECRETVALUE" not in render_problems(problems)


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    problems = validate_config_file(
        write(tmp_path, "venue: binance\nrisk:\n  price_band_bps: [1, 2\nhttp: {}\n")
    )

    assert len(problems) == 1
    assert problems[0].path == "(yaml)"
    assert problems[0].line == 4
    assert "line 4" in problems[0].message


def test_duplicate_keys_are_an_error_not_last_wins(tmp_path: Path) -> None:
    problems = validate_config_file(write(tmp_path, "venue: binance\nhttp:\n  port: 1\n  port: 2\n"))

    assert len(problems) == 1
    assert problems[0].line == 4
    assert "duplicate key 'port' (first at line 3)" in problems[0].message


def test_the_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    problems = validate_config_file(write(tmp_path, "- venue\n- binance\n"))

    assert [(problem.path, problem.line) for problem in problems] == [("(root)", 1)]
    assert "got a list" in problems[0].message


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    problems = validate_config_file(tmp_path / "absent.yaml")

    assert [problem.path for problem in problems] == ["(file)"]
    assert "does not exist" in problems[0].message
    assert "defaults" in problems[0].hint


def test_the_status_page_reads_alerts_from_the_configured_alertmanager(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "monitoring:\n  alertmanager_url: http://127.0.0.1:9093\n"))
    assert settings.monitoring.alertmanager_url == "http://127.0.0.1:9093"
    problems = validate_config_file(write(tmp_path, "monitoring:\n  alertmanager_url: ftp://nowhere\n"))
    assert [problem.path for problem in problems] == ["monitoring.alertmanager_url"]
