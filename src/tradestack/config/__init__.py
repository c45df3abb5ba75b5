"""Typed settings, loaded and validated once at the edge. Only config/ and security/ read files."""

from tradestack.config.loading import check_yaml, load_settings, settings_from_yaml, validate_config_file
from tradestack.config.models import (
    SUPPORTED_VENUES,
    FeedSettings,
    HttpSettings,
    RiskSettings,
    SecretsSettings,
    Settings,
    SimulatorSettings,
    StrategySettings,
)
from tradestack.config.problems import ConfigError, ConfigProblem, render_problems

__all__ = [
    "SUPPORTED_VENUES",
    "ConfigError",
    "ConfigProblem",
    "FeedSettings",
    "HttpSettings",
    "RiskSettings",
    "SecretsSettings",
    "Settings",
    "SimulatorSettings",
    "StrategySettings",
    "check_yaml",
    "load_settings",
    "render_problems",
    "settings_from_yaml",
    "validate_config_file",
]
