"""Pre-trade risk: every order passes here first. Pure: state comes in as values, time as an argument."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.limits import RiskLimits

NANOS_PER_DAY = 86_400 * 1_000_000_000


class Reason(Enum):
    KILL_SWITCH = "kill_switch"
    BOOK_NOT_SYNCED = "book_not_synced"
    UNKNOWN_SYMBOL = "unknown_symbol"
    SIZE = "max_order_size"
    NOTIONAL = "max_order_notional"
    POSITION = "max_position"
    PRICE_BAND = "price_band"
    RATE = "order_rate"
    NOT_TICK = "price_not_on_tick"
    NOT_LOT = "size_not_on_lot"
    NON_POSITIVE = "non_positive"


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reason: Reason | None = None
    detail: str = ""


ACCEPT = Decision(True)


@dataclass(frozen=True, slots=True)
class Exposure:
    """What the order adds to: the current position and the worst case of our live orders."""

    position: int
    open_buy: int
    open_sell: int


class KillSwitch:
    """Latched: once engaged it stays engaged until an operator resets it (and across restarts)."""

    def __init__(self, engaged: bool = False, reason: str = "") -> None:
        self.engaged = engaged
        self.reason = reason

    def engage(self, reason: str) -> bool:
        """Engage; True if this call changed the state."""
        if self.engaged:
            return False
        self.engaged = True
        self.reason = reason
        return True

    def reset(self) -> None:
        self.engaged = False
        self.reason = ""


class RiskEngine:
    def __init__(
        self, limits: RiskLimits, instruments: dict[str, Instrument], kill_switch: KillSwitch
    ) -> None:
        self.limits = limits
        self.instruments = instruments
        self.kill_switch = kill_switch
        self._sent: deque[int] = deque()
        self._day = -1
        self._day_start_pnl = 0

    def check(
        self,
        symbol: str,
        side: Side,
        price: int,
        size: int,
        exposure: Exposure,
        mid_x2: int | None,
        now_mono_ns: int,
    ) -> Decision:
        """Decide on one new order. mid_x2 is twice the mid of a synced book, None if not synced."""
        instrument = self.instruments.get(symbol)
        symbol_limits = self.limits.per_symbol.get(symbol)
        if instrument is None or symbol_limits is None:
            return Decision(False, Reason.UNKNOWN_SYMBOL, symbol)
        if price <= 0 or size <= 0:
            return Decision(False, Reason.NON_POSITIVE)
        worst = exposure.position + (exposure.open_buy + size if side is Side.BUY else 0)
        worst_short = exposure.position - (exposure.open_sell + size if side is Side.SELL else 0)
        reduces = abs(exposure.position + side.sign * size) < abs(exposure.position)
        if self.kill_switch.engaged and not reduces:
            return Decision(False, Reason.KILL_SWITCH, self.kill_switch.reason)
        if mid_x2 is None:
            return Decision(False, Reason.BOOK_NOT_SYNCED, symbol)
        if price % instrument.tick:
            return Decision(False, Reason.NOT_TICK)
        if size % instrument.lot:
            return Decision(False, Reason.NOT_LOT)
        if size > symbol_limits.max_order_size:
            return Decision(False, Reason.SIZE, f"{size} > {symbol_limits.max_order_size}")
        notional = instrument.order_value(price, size, ASSET_SCALE)  # inverse: contracts x contract_size
        if notional > self.limits.max_order_notional:
            return Decision(False, Reason.NOTIONAL, f"{notional} > {self.limits.max_order_notional}")
        if max(abs(worst), abs(worst_short)) > symbol_limits.max_position and not reduces:
            return Decision(False, Reason.POSITION, f"worst case {worst}/{worst_short}")
        # |price - mid| <= band * mid  <=>  |2 price - mid_x2| * 10000 <= band_bps * mid_x2
        if abs(2 * price - mid_x2) * 10_000 > self.limits.price_band_bps * mid_x2:
            return Decision(False, Reason.PRICE_BAND, f"price {price} mid_x2 {mid_x2}")
        while self._sent and now_mono_ns - self._sent[0] >= self.limits.rate_window_ns:
            self._sent.popleft()
        if len(self._sent) >= self.limits.max_orders_per_second:
            return Decision(False, Reason.RATE)
        self._sent.append(now_mono_ns)
        return ACCEPT

    def on_pnl(self, total_pnl: int, now_wall_ns: int) -> bool:
        """Feed total PnL (quote, ASSET_SCALE; an inverse contract's coin PnL converted to its price
        currency at the mark: positions.pnl_for_loss_limit). True when this call trips the kill switch."""
        day = now_wall_ns // NANOS_PER_DAY
        if day != self._day:
            self._day = day
            self._day_start_pnl = total_pnl
        daily = total_pnl - self._day_start_pnl
        if daily <= -self.limits.daily_loss_limit:
            return self.kill_switch.engage(
                f"daily loss {daily} breached limit {self.limits.daily_loss_limit}"
            )
        return False

    def restore_rate(self, sent_wall_ns: list[int], now_wall_ns: int, now_mono_ns: int) -> None:
        """Resume the order-rate window after a restart from the journal's order times (wall clock),
        so a quick restart cannot send a second window's worth of orders within one window."""
        for sent in sorted(sent_wall_ns):
            age = now_wall_ns - sent
            if 0 <= age < self.limits.rate_window_ns:
                self._sent.append(now_mono_ns - age)

    def restore_day(self, day: int, day_start_pnl: int) -> None:
        """Resume the daily loss window after a restart."""
        self._day = day
        self._day_start_pnl = day_start_pnl

    @property
    def day_state(self) -> tuple[int, int]:
        return self._day, self._day_start_pnl
