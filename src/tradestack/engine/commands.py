"""What the engine asks the I/O layer to do. The runner executes them in order."""

from __future__ import annotations

from dataclasses import dataclass

from tradestack.domain.orders.state import Order


@dataclass(frozen=True, slots=True)
class Submit:
    order: Order


@dataclass(frozen=True, slots=True)
class Cancel:
    order: Order


@dataclass(frozen=True, slots=True)
class CancelAll:
    symbol: str
    reason: str


Command = Submit | Cancel | CancelAll
