"""SimFlow: seeded synthetic order flow that keeps the simulated books deep and moving.

Per symbol and step:
1. the fair value moves: a fast mean-reverting wiggle (gaussian steps of `flow_volatility_bps` of the
   start price, reverting by `reversion` per step) around a slowly drifting anchor (a random walk with
   `trend_share` of that step size, pulled weakly back toward the start price);
2. background liquidity is re-quoted around it: one order at each of `levels` prices per side, dense
   near the touch (1-tick spread) and spreading out to `flow_depth_ticks`; orders whose price is no
   longer a target are canceled, missing targets are posted. When the fair value moves through a
   client's resting order, the new background order on the other side trades with it;
3. a few background orders are replaced with a new size (depth churn even in a quiet market);
4. with `taker_probability`, one market order of 0.3-1.6x the size at the touch hits one side.

So a client's order at the touch fills as soon as the fair value ticks through it (about every other
step) or a taker eats the queue ahead of it. Measured with the defaults (100 ms steps): BTCUSDT
orders at the touch or a few ticks behind fill in a median of ~0.1-0.2 s, rarely more than a few
seconds; see the module's tests for the bound the suite relies on.

Deterministic for a seed and a sequence of client actions: each symbol has its own random.Random.
"""

from __future__ import annotations

import random

from tradestack.domain.events import Side
from tradestack.venues.simulated.config import FlowConfig, SymbolConfig
from tradestack.venues.simulated.venue import SimVenue


class SimFlow:
    def __init__(self, venue: SimVenue, config: FlowConfig) -> None:
        self.config = config
        self.symbols = {
            spec.symbol: SymbolFlow(venue, spec, config) for spec in venue.config.symbols if config.enabled
        }
        self.steps = 0

    def seed_books(self) -> None:
        """Post the initial background book (no taker flow)."""
        for flow in self.symbols.values():
            flow.requote()

    def step(self) -> None:
        self.steps += 1
        for flow in self.symbols.values():
            flow.step()


class SymbolFlow:
    def __init__(self, venue: SimVenue, spec: SymbolConfig, config: FlowConfig) -> None:
        self.venue = venue
        self.config = config
        self.symbol = spec.symbol
        instrument = venue.instruments[spec.symbol]
        self.engine = venue.engines[spec.symbol]
        self.rng = random.Random(f"{config.seed}:{spec.symbol}")
        self.tick = instrument.tick
        self.lot = instrument.lot
        self.start = instrument.round_price_down(instrument.price(spec.start_price))
        self.fair = self.start
        self.anchor = float(self.start // self.tick)  # in ticks
        self.wiggle = 0.0  # in ticks
        self.sigma_ticks = self.start * spec.flow_volatility_bps / 10_000 / self.tick
        low = instrument.size(spec.flow_size_min) // self.lot if spec.flow_size_min else 10
        high = instrument.size(spec.flow_size_max) // self.lot if spec.flow_size_max else 500
        self.min_lots = max(1, low)
        self.max_lots = max(self.min_lots, high)
        self.offsets = level_offsets(config.levels, spec.flow_depth_ticks)
        self.orders: dict[int, tuple[Side, int, int]] = {}  # our resting orders: id -> (side, price, level)
        self.at: dict[tuple[Side, int], int] = {}  # (side, price) -> id

    def step(self) -> None:
        self.prune()
        self.walk()
        self.requote()
        self.churn()
        self.take()

    def prune(self) -> None:
        """Forget orders that takers (or clients) filled completely."""
        for order_id in [i for i in self.orders if self.engine.order(i) is None]:
            self._forget(order_id)

    def walk(self) -> None:
        """fair = anchor + wiggle: the anchor drifts slowly (a random walk pulled weakly toward the start
        price); the wiggle mean-reverts fast (Ornstein-Uhlenbeck), so prices near the touch are crossed
        again and again while the level still wanders over minutes."""
        config = self.config
        trend = self.rng.gauss(0.0, self.sigma_ticks * config.trend_share)
        self.anchor += trend + (self.start / self.tick - self.anchor) * config.mean_reversion
        self.wiggle = self.wiggle * (1.0 - config.reversion) + self.rng.gauss(0.0, self.sigma_ticks)
        floor = self.offsets[-1] + 10
        self.fair = max(round(self.anchor + self.wiggle), floor) * self.tick

    def targets(self) -> dict[Side, list[int]]:
        """Target prices per side, nearest the touch first."""
        bid = self.fair - self.fair % self.tick
        ask = bid + self.tick
        return {
            Side.BUY: [bid - offset * self.tick for offset in self.offsets],
            Side.SELL: [ask + offset * self.tick for offset in self.offsets],
        }

    def requote(self) -> None:
        targets = self.targets()
        wanted = {side: set(prices) for side, prices in targets.items()}
        for order_id, (side, price, _) in list(self.orders.items()):
            if price not in wanted[side]:
                self.venue.flow_cancel(self.symbol, order_id)
                self._forget(order_id)
        for side, prices in targets.items():
            for level, price in enumerate(prices):
                if (side, price) not in self.at:
                    self._post(side, price, level)

    def churn(self) -> None:
        probability = self.config.noise_probability
        for order_id, (side, price, level) in list(self.orders.items()):
            if self.rng.random() < probability:
                self.venue.flow_cancel(self.symbol, order_id)
                self._forget(order_id)
                self._post(side, price, level)

    def take(self) -> None:
        config = self.config
        if self.rng.random() >= config.taker_probability:
            return
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        touch = self.engine.best_ask() if side is Side.BUY else self.engine.best_bid()
        multiple = self.rng.uniform(config.taker_size_min, config.taker_size_max)
        if touch is None:
            return
        lots = max(1, round(touch[1] * multiple / self.lot))
        self.venue.flow_market(self.symbol, side, lots * self.lot)

    def _post(self, side: Side, price: int, level: int) -> None:
        depth_factor = 1.0 + 2.0 * level / max(1, len(self.offsets) - 1)  # deeper levels are larger
        lots = self.min_lots + int((self.max_lots - self.min_lots) * self.rng.random() ** 2)
        size = max(1, round(lots * depth_factor)) * self.lot
        result = self.venue.flow_limit(self.symbol, side, price, size)
        if result.resting and result.order_id is not None:
            self.orders[result.order_id] = (side, price, level)
            self.at[(side, price)] = result.order_id

    def _forget(self, order_id: int) -> None:
        side, price, _ = self.orders.pop(order_id)
        if self.at.get((side, price)) == order_id:
            del self.at[(side, price)]


def level_offsets(levels: int, depth_ticks: int) -> list[int]:
    """Distances from the touch in ticks: one tick apart near it, then wider (cubic) out to depth_ticks."""
    count = max(1, levels)
    extra = max(0, depth_ticks - (count - 1))
    offsets: list[int] = []
    for k in range(count):
        offset = k + round(extra * (k / max(1, count - 1)) ** 3)
        offsets.append(max(offset, offsets[-1] + 1) if offsets else offset)
    return offsets
