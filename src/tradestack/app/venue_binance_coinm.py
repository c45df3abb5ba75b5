"""Binance COIN-M futures (`binance-coinm`) as a `VenueConnector`: the USD-M connector over /dapi.

Each contract trades as an inverse instrument (`InstrumentKind.INVERSE`) whose `base` is its position
("BTCUSD_PERP"), whose `quote` is the coin it is margined and settled in (BTC), sized in whole contracts
of `contract_size` USD (100 on BTCUSD_PERP, 10 on the others): PnL is in the coin (domain/positions.py),
orders are worth contracts x contract_size USD and coin PnL is valued at the mark for the loss limit
(domain/risk). Drift is the signed position in contracts against positionRisk's positionAmt.
"""

from __future__ import annotations

from tradestack.app.venue_binance_futures import BinanceFuturesConnector
from tradestack.venues.binance_futures.rest_gateway import COINM, FuturesApi

NAME = "binance-coinm"


class BinanceCoinmConnector(BinanceFuturesConnector):
    name = NAME
    api: FuturesApi = COINM
