"""Kraken WS v2 `book` sync: the doc example as frames, truncation to depth, checksum-driven resync."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.instruments import Instrument
from tradestack.venues.kraken.book_sync import KrakenBookSync, SyncState
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import KrakenMarketParser

SYMBOL = "BTC/USD"
PARSER = KrakenMarketParser({SYMBOL: Instrument("kraken", SYMBOL, "BTC", "USD", price_scale=1, size_scale=8)})


class Venue:
    """An independent model of Kraken: Decimal books at depth 10, checksum from formatted strings."""

    def __init__(self, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal], depth: int = 10) -> None:
        self.bids = dict(bids)
        self.asks = dict(asks)
        self.depth = depth

    def checksum(self) -> int:
        def piece(price: Decimal, qty: Decimal) -> str:
            return f"{price:.1f}".replace(".", "").lstrip("0") + f"{qty:.8f}".replace(".", "").lstrip("0")

        asks = sorted(self.asks.items())[:10]
        bids = sorted(self.bids.items(), reverse=True)[:10]
        return zlib.crc32("".join(piece(*level) for level in asks + bids).encode())

    def frame(
        self, kind: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> bytes:
        for book, changes, best_first in ((self.bids, bids, True), (self.asks, asks, False)):
            for price, qty in changes:
                if qty:
                    book[price] = qty
                else:
                    book.pop(price, None)
            for price in sorted(book, reverse=best_first)[self.depth :]:
                del book[price]
        if kind == "snapshot":  # a snapshot carries the whole book
            bids, asks = sorted(self.bids.items(), reverse=True), sorted(self.asks.items())
        data = {
            "symbol": SYMBOL,
            "bids": [{"price": float(p), "qty": float(q)} for p, q in bids],
            "asks": [{"price": float(p), "qty": float(q)} for p, q in asks],
            "checksum": self.checksum(),
            "timestamp": "2023-10-06T17:35:55.440295Z",
        }
        return json.dumps({"channel": "book", "type": kind, "data": [data]}).encode()


def parse_one(frame: bytes) -> KrakenBookUpdate:
    (event,) = PARSER.parse(frame, 1)
    assert isinstance(event, KrakenBookUpdate), event
    return event


@pytest.mark.corpus
def test_doc_example_sent_as_json_numbers_verifies(corpus: Path) -> None:
    data = json.loads((corpus / "exchange_docs_vectors/book_checksum_vectors.json").read_text())
    (vector,) = [item for item in data["vectors"] if item["id"] == "kraken-spot-ws-v2-book-doc-example"]
    inputs = vector["inputs"]
    # as v2 sends them: JSON numbers, so "0.00100000" arrives as 0.001 and "45281.0" as 45281.0
    side = {
        k: ",".join(f'{{"price":{p},"qty":{Decimal(q).normalize():f}}}' for p, q in inputs[k])
        for k in ("bids", "asks")
    }
    frame = (
        f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{SYMBOL}","bids":[{side["bids"]}],'
        f'"asks":[{side["asks"]}],"checksum":{vector["expected"]["checksum"]},'
        f'"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}'
    ).encode()
    assert b"0.001," in frame or b"0.001}" in frame
    sync = KrakenBookSync(SYMBOL)
    assert sync.on_message(parse_one(frame)) is Decision.APPLY
    assert sync.checksum() == 3310070434
    assert sync.counters.checksum_ok == 1


def start(depth: int = 10) -> tuple[Venue, KrakenBookSync]:
    venue = Venue(
        {Decimal(f"{45000 - index}.5"): Decimal(f"0.{index + 1:08d}") for index in range(depth)},
        {Decimal(f"{45001 + index}.1"): Decimal(index + 1) for index in range(depth)},
        depth,
    )
    sync = KrakenBookSync(SYMBOL, depth)
    assert sync.on_message(parse_one(venue.frame("snapshot", [], []))) is Decision.APPLY
    return venue, sync


def test_updates_apply_truncate_to_depth_and_verify() -> None:
    venue, sync = start()
    # a new best bid pushes the 10th bid out of range; Kraken does not delete it explicitly
    update = venue.frame(
        "update", [(Decimal("45000.9"), Decimal("1.25"))], [(Decimal("45001.1"), Decimal(0))]
    )
    assert sync.on_message(parse_one(update)) is Decision.APPLY
    assert len(sync.book.bids()) == 10 and len(sync.book.asks()) == 9
    assert sync.book.best_bid() == (450009, 125000000)
    assert sync.counters.checksum_ok == 2 and sync.counters.checksum_failed == 0


def test_depth_25_keeps_25_levels_and_checks_the_top_10() -> None:
    venue, sync = start(25)
    update = venue.frame("update", [(Decimal("44990.2"), Decimal("3"))], [])
    assert sync.on_message(parse_one(update)) is Decision.APPLY
    assert len(sync.book.bids()) == 25
    assert sync.counters.checksum_ok == 2


def test_a_deleted_update_fails_the_next_checksum_and_resyncs() -> None:
    venue, sync = start()
    venue.frame("update", [(Decimal("45000.7"), Decimal("2"))], [])  # lost in transit
    update = venue.frame("update", [], [(Decimal("45001.1"), Decimal("4"))])
    assert sync.on_message(parse_one(update)) is Decision.GAP
    assert sync.counters.checksum_failed == 1 and sync.counters.resyncs == 1
    assert sync.state is SyncState.RESYNCING and len(sync.book) == 0
    assert sync.on_message(parse_one(venue.frame("update", [], []))) is Decision.SKIP
    assert sync.on_message(parse_one(venue.frame("snapshot", [], []))) is Decision.APPLY


def test_depth_must_be_one_kraken_offers() -> None:
    with pytest.raises(ValueError, match="depth"):
        KrakenBookSync(SYMBOL, 20)
