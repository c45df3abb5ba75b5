"""Request parameters as Binance reads them: query string and form body, the query string winning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from tradestack.venues.simulated import errors

_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


@dataclass(frozen=True, slots=True)
class Params:
    values: dict[str, str]
    query: str  # raw, as sent
    body: str  # raw, as sent

    @classmethod
    def parse(cls, query: str, body: str) -> Params:
        values = _pairs(body)
        values.update(_pairs(query))  # "the query string parameter will be used"
        return cls(values, query, body)

    def optional(self, name: str) -> str | None:
        value = self.values.get(name)
        if value == "":
            raise errors.BinanceError(-1105, f"Parameter '{name}' was empty.")
        return value

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if not value:
            raise errors.mandatory(name)
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.optional(name)
        if value is None:
            return default
        if not _INTEGER.match(value):
            raise errors.illegal_characters(name, "^-?[0-9]{1,19}$")
        return int(value)

    def required_integer(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise errors.mandatory(name)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise errors.invalid_parameter(name)
        return value.lower() == "true"


def _pairs(raw: str) -> dict[str, str]:
    values: dict[str, str] = {}
    if not raw:
        return values
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if name in values:
            raise errors.duplicate_parameter()
        values[name] = value
    return values
