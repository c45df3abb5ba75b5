"""Kraken's names for assets and pairs, and ours. Pure.

Kraken REST names assets its legacy way ("XXBT", "XETH", "ZUSD", "USDT") and pairs by a key and an
`altname` ("XBTUSDT"); AssetPairs' `wsname` is "XBT/USDT", while WebSocket v2 names the same pair
"BTC/USDT". Our symbol for a Kraken pair is its v2 name (what the public and private streams say), our
asset names the common ones (BTC, ETH, USD, USDT) so positions and balances meet.
"""

from __future__ import annotations

from typing import Final

# legacy codes that differ from the common name once the X/Z class prefix is gone
_RENAMED: Final = {"XBT": "BTC", "XDG": "DOGE"}
# four-letter legacy codes carry a class prefix: X for crypto, Z for fiat (XXBT, XETH, ZUSD, ZEUR)
_PREFIXED: Final = frozenset({"XXBT", "XETH", "XLTC", "XXRP", "XXLM", "XXMR", "XZEC", "XETC", "XXDG", "XREP"})
_FIAT: Final = frozenset({"ZUSD", "ZEUR", "ZGBP", "ZCAD", "ZJPY", "ZAUD", "ZCHF"})


def common_asset(code: str) -> str:
    """A Kraken asset code in its common spelling: "XXBT" -> "BTC", "ZUSD" -> "USD", "USDT" -> "USDT"."""
    if code in _PREFIXED or code in _FIAT:
        code = code[1:]
    return _RENAMED.get(code, code)


def v2_symbol(wsname: str) -> str:
    """AssetPairs' `wsname` as WebSocket v2 names the pair: "XBT/USDT" -> "BTC/USDT"."""
    base, _, quote = wsname.partition("/")
    return f"{common_asset(base)}/{common_asset(quote)}"
