"""Instruments and exact conversion between venue decimal strings and integers.

Prices are integers in units of 10**-price_scale, quantities in units of 10**-size_scale.
Venue strings are parsed without Decimal or float: split at the point, pad, int().
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

_POW10: tuple[int, ...] = tuple(10**i for i in range(40))


class NotRepresentable(ValueError):
    """A decimal string has more significant digits than the instrument's scale."""


def parse_fixed(text: str, scale: int) -> int:
    """Exact decimal string -> integer units of 10**-scale ("61737.63000000", 2 -> 6173763)."""
    point = text.find(".")
    if point < 0:
        return int(text) * _POW10[scale]
    fraction = text[point + 1 :]
    digits = len(fraction)
    if digits <= scale:
        return int(text[:point] + fraction) * _POW10[scale - digits]
    if fraction[scale:].strip("0"):
        raise NotRepresentable(f"{text!r} has more than {scale} decimals")
    return int(text[:point] + fraction[:scale])


def pow10(exponent: int) -> int:
    """10**exponent as an int, for exponents 0..39."""
    return _POW10[exponent]


def format_fixed(value: int, scale: int) -> str:
    """Integer units of 10**-scale -> plain decimal string with exactly `scale` decimals."""
    if scale == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    magnitude = -value if value < 0 else value
    whole, fraction = divmod(magnitude, _POW10[scale])
    return f"{sign}{whole}.{fraction:0{scale}d}"


# A tick or lot finer than 10**-18 is not a market's step but a broken listing (and beyond int64 units).
MAX_STEP_SCALE = 18


def scale_of(step: str) -> int:
    """Number of significant decimals in a step string: "0.01000000" -> 2, "1.00000000" -> 0."""
    point = step.find(".")
    if point < 0:
        return 0
    return len(step[point + 1 :].rstrip("0"))


class InstrumentKind(Enum):
    """What holding the instrument means for balances (positions.Ledger.apply).

    SPOT: a fill swaps base for quote. LINEAR: a contract settled in the quote asset (Binance USD-M);
    `base` names the position itself (e.g. "BTCUSDT-PERP"), whose balance is the signed position, and
    a fill moves no quote by notional: the venue settles realised PnL and fees into the wallet.
    INVERSE: a contract margined in the coin (Binance COIN-M): `quote` is the coin, sizes are contracts
    of `contract_size` units of the price currency (USD) each; the ledger treats it as LINEAR. Its PnL
    is in the coin and not linear in price: `Position` keeps it at INVERSE_PNL_SCALE (`pnl_scale`).
    """

    SPOT = "spot"
    LINEAR = "linear"
    INVERSE = "inverse"


# Decimals of the coin at which an inverse position keeps its cost and PnL (positions.Position): fine
# enough that flooring each fill's coin value (contract_size x contracts / price) loses < 1e-18 coin.
INVERSE_PNL_SCALE = 18


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable symbol at one venue, with exact tick and lot arithmetic."""

    venue: str
    symbol: str
    base: str
    quote: str
    price_scale: int
    size_scale: int
    tick: int = 1  # price step in price units
    lot: int = 1  # size step in size units
    min_size: int = 0
    min_notional: int = 0  # in quote units of 10**-(price_scale + size_scale)
    kind: InstrumentKind = InstrumentKind.SPOT
    contract_size: int = 0  # INVERSE: whole units of the price currency (USD) one contract is worth

    @classmethod
    def from_steps(
        cls,
        venue: str,
        symbol: str,
        base: str,
        quote: str,
        tick_size: str,
        step_size: str,
        min_qty: str = "0",
        min_notional: str = "0",
    ) -> Instrument:
        price_scale = scale_of(tick_size)
        size_scale = scale_of(step_size)
        if max(price_scale, size_scale) > MAX_STEP_SCALE:
            raise ValueError(
                f"{symbol}: a step of {max(price_scale, size_scale)} decimals is not a tick or a lot"
            )
        instrument = cls(
            venue=venue,
            symbol=symbol,
            base=base,
            quote=quote,
            price_scale=price_scale,
            size_scale=size_scale,
            tick=parse_fixed(tick_size, price_scale),
            lot=parse_fixed(step_size, size_scale),
            min_size=parse_fixed(min_qty, size_scale),
            min_notional=parse_fixed(min_notional, price_scale + size_scale),
        )
        if (
            instrument.tick <= 0
            or instrument.lot <= 0
            or instrument.min_size < 0
            or instrument.min_notional < 0
        ):
            raise ValueError(
                f"{symbol}: tick {tick_size!r} and step {step_size!r} must be positive, "
                f"minimums {min_qty!r} and {min_notional!r} not negative"
            )
        return instrument

    def price(self, text: str) -> int:
        return parse_fixed(text, self.price_scale)

    def size(self, text: str) -> int:
        return parse_fixed(text, self.size_scale)

    def price_text(self, price: int) -> str:
        return format_fixed(price, self.price_scale)

    def size_text(self, size: int) -> str:
        return format_fixed(size, self.size_scale)

    @property
    def notional_scale(self) -> int:
        return self.price_scale + self.size_scale

    @property
    def pnl_scale(self) -> int:
        """Decimals of a `Position`'s cost and PnL: the notional scale (quote asset), or on an inverse
        contract INVERSE_PNL_SCALE (the coin, which is `quote`)."""
        if self.kind is InstrumentKind.INVERSE:
            return INVERSE_PNL_SCALE
        return self.notional_scale

    def coin_value(self, price: int, size: int) -> int:
        """INVERSE: what `size` contracts are worth in the coin at `price`, contract_size x contracts /
        price, floored at INVERSE_PNL_SCALE (`size` >= 0, `price` > 0)."""
        if self.contract_size <= 0:
            raise ValueError(f"{self.symbol}: an inverse contract needs a positive contract_size")
        scale = INVERSE_PNL_SCALE + self.price_scale - self.size_scale
        if scale >= 0:
            return self.contract_size * size * _POW10[scale] // price
        return self.contract_size * size // (price * _POW10[-scale])

    def order_value(self, price: int, size: int, scale: int) -> int:
        """What an order is worth in the price currency at `scale` decimals, floored: price x size
        (the quote asset), or on an inverse contract contract_size x contracts (USD), whatever the price."""
        if self.kind is InstrumentKind.INVERSE:
            value, value_scale = self.contract_size * size, self.size_scale
        else:
            value, value_scale = price * size, self.notional_scale
        if scale >= value_scale:
            return value * _POW10[scale - value_scale]
        return value // _POW10[value_scale - scale]

    def round_price_down(self, price: int) -> int:
        return price - price % self.tick

    def round_price_up(self, price: int) -> int:
        return -((-price) // self.tick) * self.tick
