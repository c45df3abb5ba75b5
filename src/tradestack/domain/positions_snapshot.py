"""Positions and balances as of a point in the journal, so a restart replays only the fills after it.

Without it every restart replays every fill the journal ever took: a market maker's few thousand fills
an hour make that seconds after a few days, and the engine must be ready again within five.
"""

from __future__ import annotations

import json

from tradestack.domain.positions import Ledger, Position


def encode(positions: dict[str, Position], ledger: Ledger) -> str:
    return json.dumps(
        {
            "positions": {
                symbol: [p.size, p.cost, p.realized, p.fees] for symbol, p in sorted(positions.items())
            },
            "balances": dict(sorted(ledger.balances.items())),
        },
        separators=(",", ":"),
    )


def restore(text: str, positions: dict[str, Position], ledger: Ledger) -> None:
    """Load a snapshot into the engine's positions and ledger (integers, exact). A symbol the
    snapshot holds that is no longer traded is refused: its position would silently vanish."""
    data = json.loads(text)
    held = data["positions"]
    dropped = sorted(symbol for symbol, figures in held.items() if symbol not in positions and any(figures))
    if dropped:
        raise ValueError(
            f"the journal holds open positions in {', '.join(dropped)}, which this config no longer trades; "
            "add them back to `symbols` (or flatten them first)"
        )
    for symbol, (size, cost, realized, fees) in held.items():
        position = positions.get(symbol)
        if position is not None:
            position.size, position.cost, position.realized, position.fees = size, cost, realized, fees
    for asset, amount in data["balances"].items():
        ledger.set_balance(asset, int(amount))
