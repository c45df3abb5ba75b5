"""Refuse to trade with an API key that can do more than trade.

At start the runtime asks the venue what its key may do (Binance:
`GET /sapi/v1/account/apiRestrictions`) and refuses a key that can withdraw or move funds, one that
cannot trade, or — when the config requires it — one without an IP whitelist. A trading key that
can withdraw turns any compromise of a trading host into a loss of the account; withdrawals belong to
a separate role (see hot_wallet.py) that never runs on trading hosts.

Venues implement `KeyRestrictionsSource` (security does not import venues); their answer only has
to carry the attributes of `KeyRestrictionsLike`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class KeyRestrictionsLike(Protocol):
    @property
    def can_withdraw(self) -> bool: ...

    @property
    def can_trade(self) -> bool: ...

    @property
    def can_transfer(self) -> bool: ...

    @property
    def ip_restricted(self) -> bool: ...


class KeyRestrictionsSource(Protocol):
    async def key_restrictions(self) -> KeyRestrictionsLike: ...


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    require_ip_whitelist: bool = True
    require_trading: bool = True
    forbid_transfers: bool = True


class UnsafeApiKey(RuntimeError):
    """The key's permissions are wider (or narrower) than a trading key's. Never holds the key."""

    def __init__(self, venue: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"refusing the {venue} API key: " + "; ".join(problems) + ". Fix the key's restrictions at the "
            "venue (or issue a new key with only spot trading enabled and an IP whitelist), then restart."
        )


def key_problems(restrictions: KeyRestrictionsLike, policy: KeyPolicy) -> list[str]:
    problems: list[str] = []
    if restrictions.can_withdraw:
        problems.append("it can withdraw (enableWithdrawals is on)")
    if policy.forbid_transfers and restrictions.can_transfer:
        problems.append("it can transfer funds between accounts (internal/universal transfer is on)")
    if policy.require_ip_whitelist and not restrictions.ip_restricted:
        problems.append("it has no IP whitelist (ipRestrict is off) and the config requires one")
    if policy.require_trading and not restrictions.can_trade:
        problems.append("it cannot trade (spot trading is off)")
    return problems


async def enforce_key_policy(
    source: KeyRestrictionsSource, policy: KeyPolicy, venue: str
) -> KeyRestrictionsLike:
    """Query the key's restrictions and raise UnsafeApiKey unless they fit `policy`."""
    restrictions = await source.key_restrictions()
    problems = key_problems(restrictions, policy)
    if problems:
        raise UnsafeApiKey(venue, problems)
    return restrictions
