"""Typed, frozen settings with embedded defaults: `Settings()` is a complete paper-trading config.

Money and sizes are `Decimal`, parsed from strings (YAML numbers go through `str()`, never through
float arithmetic) and normalised to plain notation, so `str(value)` is what the venue would send.
Cross-field rules run after field validation; each broken rule names its field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tradestack.config.problems import ConfigProblem

SUPPORTED_VENUES = ("binance", "okx", "coinbase", "bybit", "kraken", "binance-futures", "binance-coinm")
# Venues sized in whole contracts of a fixed value in the price currency, whatever the price: COIN-M's
# inverse perpetuals, 100 USD a contract on BTCUSD_PERP and 10 on the others.
CONTRACT_SIZES: dict[str, dict[str, int]] = {"binance-coinm": {"BTCUSD_PERP": 100, "ETHUSD_PERP": 10}}
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_/-]{1,29}")
_MAX_DIGITS = 18  # a decimal setting of 10**18 or more is a typo (1e400), not a limit
_ASSET = re.compile(r"[A-Z0-9]{2,15}")


def _to_decimal(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError(
            "decimal_type",
            "expected a decimal number, got a boolean",
            {"hint": 'write a number, e.g. "0.001"'},
        )
    if isinstance(value, int | float):
        value = str(value)  # shortest round-trip text of what YAML read: 0.001 -> "0.001"
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    try:
        parsed = Decimal(value.strip())
    except InvalidOperation:
        raise PydanticCustomError(
            "decimal_parsing",
            "'{text}' is not a decimal number",
            {"text": value, "hint": 'write a plain decimal number in quotes, e.g. "0.001"'},
        ) from None
    if parsed.is_finite() and parsed and parsed.adjusted() >= _MAX_DIGITS:
        raise PydanticCustomError(
            "decimal_parsing",
            "'{text}' is not a realistic amount (10**18 or more)",
            {"text": value, "hint": 'write the amount in plain digits, e.g. "1000"'},
        )
    if not parsed.is_finite():
        raise PydanticCustomError(
            "decimal_parsing",
            "'{text}' is not a finite number",
            {"text": value, "hint": 'write a plain decimal number in quotes, e.g. "0.001"'},
        )
    return Decimal(format(parsed, "f"))  # "1E+3" -> "1000": plain notation for exact venue strings


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError(
            "not_positive",
            "must be greater than 0, got {value}",
            {"value": str(value), "hint": "use a value greater than 0"},
        )
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError(
            "negative", "must not be negative, got {value}", {"value": str(value), "hint": "use 0 or more"}
        )
    return value


def _symbol(value: str) -> str:
    if _SYMBOL.fullmatch(value):
        return value
    if _SYMBOL.fullmatch(value.upper()):
        raise PydanticCustomError(
            "symbol_case",
            "symbol '{symbol}' must be uppercase",
            {"symbol": value, "hint": f"write {value.upper()}"},
        )
    raise PydanticCustomError(
        "symbol_format",
        "'{symbol}' is not a symbol",
        {"symbol": value, "hint": "write the venue's symbol in capitals, e.g. BTCUSDT"},
    )


def _venue(value: str) -> str:
    if value not in SUPPORTED_VENUES:
        valid = ", ".join(SUPPORTED_VENUES)
        raise PydanticCustomError(
            "unsupported_venue",
            "unsupported venue '{venue}'; valid venues: {valid}",
            {"venue": value, "valid": valid, "hint": f"set venue to one of: {valid}"},
        )
    return value


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _tls_unless_loopback(value: str | None) -> str | None:
    """Secrets cross this endpoint: https, except for a local test server."""
    if value is not None and urlsplit(value).scheme == "http" and urlsplit(value).hostname not in _LOOPBACK:
        raise PydanticCustomError(
            "insecure_url",
            "'{url}' is plain http to a remote host: secrets would cross the network unencrypted",
            {
                "url": value,
                "hint": "use https://; plain http:// only for a test server on 127.0.0.1 or localhost",
            },
        )
    return value


PositiveDecimal = Annotated[Decimal, BeforeValidator(_to_decimal), AfterValidator(_positive)]
NonNegativeDecimal = Annotated[Decimal, BeforeValidator(_to_decimal), AfterValidator(_not_negative)]
Symbol = Annotated[str, AfterValidator(_symbol)]
PerSymbol = Mapping[Symbol, PositiveDecimal]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _per_symbol(**values: str) -> PerSymbol:
    return {symbol: Decimal(text) for symbol, text in values.items()}


def _asset(value: str) -> str:
    if _ASSET.fullmatch(value):
        return value
    raise PydanticCustomError(
        "asset_format",
        "'{asset}' is not an asset",
        {"asset": value, "hint": "write the asset's ticker in capitals, e.g. BTC or USDT"},
    )


Asset = Annotated[str, AfterValidator(_asset)]
PerAsset = Mapping[Asset, PositiveDecimal]


def _per_asset(**values: str) -> PerAsset:
    return {asset: Decimal(text) for asset, text in values.items()}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategySettings(_Frozen):
    """The market maker: quotes around mid, skewed by inventory."""

    half_spread_bps: PositiveDecimal = Decimal(1)
    order_size: PerSymbol = Field(default_factory=lambda: _per_symbol(BTCUSDT="0.001", ETHUSDT="0.01"))
    max_inventory: PerSymbol = Field(default_factory=lambda: _per_symbol(BTCUSDT="0.01", ETHUSDT="0.1"))
    skew_bps_at_max_inventory: NonNegativeDecimal = Decimal(10)
    requote_threshold_bps: NonNegativeDecimal = Decimal(1)


class RiskSettings(_Frozen):
    """Pre-trade limits. Notional and loss are in quote units (USDT for the defaults)."""

    max_order_size: PerSymbol = Field(default_factory=lambda: _per_symbol(BTCUSDT="0.01", ETHUSDT="0.1"))
    max_order_notional: PositiveDecimal = Decimal(1000)
    max_position: PerSymbol = Field(default_factory=lambda: _per_symbol(BTCUSDT="0.02", ETHUSDT="0.2"))
    price_band_bps: PositiveDecimal = Decimal(100)
    max_orders_per_second: int = Field(default=20, gt=0)
    daily_loss_limit: PositiveDecimal = Decimal(500)


class HttpSettings(_Frozen):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=9490, ge=0, le=65535)  # 0: any free port (tests)


class FeedSettings(_Frozen):
    staleness_seconds: Seconds = 5.0
    ping_interval_seconds: Seconds = 10.0
    pong_timeout_seconds: Seconds = 5.0
    backoff_initial_seconds: Seconds = 0.1
    backoff_max_seconds: Seconds = 10.0
    snapshot_limit: int = Field(default=1000, ge=1, le=5000)


class SimulatorSettings(_Frozen):
    seed: int = 7
    start_prices: PerSymbol = Field(default_factory=lambda: _per_symbol(BTCUSDT="60000", ETHUSDT="3000"))
    flow_interval_ms: int = Field(default=50, gt=0)


class SecretsSettings(_Frozen):
    """Where secrets live (never the secrets themselves, never an environment variable)."""

    store: Literal["file", "aws"] = "file"
    path: Path = Path("secrets.json")  # relative paths are under data_dir
    # store: aws — one Secrets Manager secret holding {"api_key": ..., "api_secret": ...}, read at
    # AWSCURRENT through the instance role (IRSA); the endpoint is the VPC endpoint (or a test server)
    aws_secret_id: str = "tradestack/binance"
    aws_region: str = "eu-west-1"
    aws_endpoint_url: Annotated[str | None, AfterValidator(_tls_unless_loopback)] = Field(
        default=None, pattern=r"^https?://[^\s]+$"
    )
    refresh_interval_seconds: Seconds = 60.0  # shorter than the rotation overlap window
    overlap_window_seconds: Seconds = 900.0


class MonitoringSettings(_Frozen):
    """Where the status page reads firing alerts from; none means it says "not configured"."""

    alertmanager_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")


class FirmRiskSettings(_Frozen):
    """`tradestack risk`: where the firm risk service listens; the limits on the sum of all shards."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=9491, ge=0, le=65535)  # 0: any free port (tests)
    max_net_position: PerAsset = Field(default_factory=lambda: _per_asset(BTC="0.04", ETH="0.4"))
    max_gross_notional: PerAsset = Field(default_factory=lambda: _per_asset(USDT="10000"))
    daily_loss_limit: PerAsset = Field(default_factory=lambda: _per_asset(USDT="1000"))


class RiskServiceSettings(_Frozen):
    """A shard's link to the firm risk service. No url: the shard trades on its own limits alone."""

    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    report_interval_seconds: Seconds = 0.25
    timeout_seconds: Seconds = 2.0  # no verdict for this long: stop trading and cancel (fail closed)


class SecuritySettings(_Frozen):
    """What a trading key must look like at the venue; checked at every start."""

    require_ip_whitelist: bool = True  # refuse a key the venue lets anyone use from anywhere


class Settings(_Frozen):
    data_dir: Path = Path("./tradestack-data")
    venue: Annotated[str, AfterValidator(_venue)] = "binance"
    symbols: tuple[Symbol, ...] = ("BTCUSDT", "ETHUSDT")
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    firm_risk: FirmRiskSettings = Field(default_factory=FirmRiskSettings)
    risk_service: RiskServiceSettings = Field(default_factory=RiskServiceSettings)

    @property
    def secrets_path(self) -> Path:
        path = self.secrets.path
        return path if path.is_absolute() else self.data_dir / path

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        problems = inconsistencies(self)
        if problems:
            # The loader passes a list in the context to receive the problems with their paths;
            # direct construction still fails, with every problem in the message.
            sink = info.context.get("problems") if isinstance(info.context, dict) else None
            if isinstance(sink, list):
                sink.extend(problems)
            summary = "; ".join(f"{problem.path}: {problem.message}" for problem in problems)
            raise PydanticCustomError("inconsistent_settings", "{summary}", {"summary": summary})
        return self


def inconsistencies(settings: Settings) -> list[ConfigProblem]:
    """Cross-field rules, each reported at the field to change."""
    problems: list[ConfigProblem] = []
    symbols = settings.symbols
    if not symbols:
        problems.append(ConfigProblem("symbols", "no symbols to trade", "list at least one, e.g. [BTCUSDT]"))
    seen: set[str] = set()
    for index, symbol in enumerate(symbols):
        if symbol in seen:
            problems.append(
                ConfigProblem(f"symbols[{index}]", f"{symbol} is listed twice", "list each symbol once")
            )
        seen.add(symbol)

    strategy, risk = settings.strategy, settings.risk
    per_symbol = {
        "strategy.order_size": (strategy.order_size, "an order size", "0.001"),
        "strategy.max_inventory": (strategy.max_inventory, "a maximum inventory", "0.01"),
        "risk.max_order_size": (risk.max_order_size, "a maximum order size", "0.01"),
        "risk.max_position": (risk.max_position, "a maximum position", "0.02"),
        "simulator.start_prices": (settings.simulator.start_prices, "a start price", "60000"),
    }
    complete = True
    for path, (values, what, example) in per_symbol.items():
        for symbol in symbols:
            if symbol not in values:
                complete = False
                problems.append(
                    ConfigProblem(
                        f"{path}.{symbol}",
                        f"{symbol} is in symbols but has no entry here ({what})",
                        f'add `{symbol}: "{example}"` under {path}, or remove {symbol} from symbols',
                    )
                )
        for symbol in values:
            if symbol not in seen:
                problems.append(
                    ConfigProblem(
                        f"{path}.{symbol}",
                        f"{symbol} is not in symbols ({', '.join(symbols)})",
                        f"add {symbol} to symbols, or remove this entry (check the spelling)",
                    )
                )
    if complete:
        problems.extend(_limit_problems(settings))

    band = risk.price_band_bps
    widest = strategy.half_spread_bps + strategy.skew_bps_at_max_inventory
    if widest >= band:
        problems.append(
            ConfigProblem(
                "risk.price_band_bps",
                f"quotes reach {widest} bps from mid (half_spread_bps + skew_bps_at_max_inventory) "
                f"but the price band is {band} bps, so risk would reject them",
                f"raise risk.price_band_bps above {widest}, or narrow the strategy's spread or skew",
            )
        )
    feed = settings.feed
    if feed.backoff_initial_seconds > feed.backoff_max_seconds:
        problems.append(
            ConfigProblem(
                "feed.backoff_initial_seconds",
                f"{feed.backoff_initial_seconds} is above backoff_max_seconds ({feed.backoff_max_seconds})",
                "make backoff_initial_seconds at most backoff_max_seconds",
            )
        )
    link = settings.risk_service
    if link.timeout_seconds < 2 * link.report_interval_seconds:
        problems.append(
            ConfigProblem(
                "risk_service.timeout_seconds",
                f"{link.timeout_seconds} is under two report intervals "
                f"({link.report_interval_seconds} s each): one late answer would stop trading",
                "make the timeout at least twice risk_service.report_interval_seconds",
            )
        )
    if feed.pong_timeout_seconds >= feed.ping_interval_seconds:
        problems.append(
            ConfigProblem(
                "feed.pong_timeout_seconds",
                f"{feed.pong_timeout_seconds} is not below "
                f"ping_interval_seconds ({feed.ping_interval_seconds})",
                "make the pong timeout shorter than the ping interval, e.g. half of it",
            )
        )
    return problems


def _limit_problems(settings: Settings) -> list[ConfigProblem]:
    strategy, risk = settings.strategy, settings.risk
    problems: list[ConfigProblem] = []
    for symbol in settings.symbols:
        size = strategy.order_size[symbol]
        inventory = strategy.max_inventory[symbol]
        if inventory < size:
            problems.append(
                ConfigProblem(
                    f"strategy.max_inventory.{symbol}",
                    f"{inventory} is below the order size {size}, so the strategy could never quote",
                    f"raise strategy.max_inventory.{symbol} to at least {size}",
                )
            )
        if risk.max_order_size[symbol] < size:
            problems.append(
                ConfigProblem(
                    f"risk.max_order_size.{symbol}",
                    f"{risk.max_order_size[symbol]} is below strategy.order_size.{symbol} ({size}), "
                    "so risk would reject every order",
                    f"raise risk.max_order_size.{symbol} to at least {size}, "
                    f"or lower strategy.order_size.{symbol}",
                )
            )
        if risk.max_position[symbol] < inventory:
            problems.append(
                ConfigProblem(
                    f"risk.max_position.{symbol}",
                    f"{risk.max_position[symbol]} is below strategy.max_inventory.{symbol} ({inventory})",
                    f"raise risk.max_position.{symbol} to at least {inventory}, "
                    f"or lower strategy.max_inventory.{symbol}",
                )
            )
        contract = CONTRACT_SIZES.get(settings.venue, {}).get(symbol)
        price = settings.simulator.start_prices[symbol]
        notional = size * (price if contract is None else contract)
        worth = f"at the start price ({price})" if contract is None else f"of {contract} USD a contract"
        if notional > risk.max_order_notional:
            problems.append(
                ConfigProblem(
                    "risk.max_order_notional",
                    f"an order of strategy.order_size.{symbol} ({size}) {worth} "
                    f"is worth {notional}, above this limit "
                    f"({risk.max_order_notional})",
                    f"raise risk.max_order_notional to at least {notional}, "
                    f"or lower strategy.order_size.{symbol}",
                )
            )
    return problems
