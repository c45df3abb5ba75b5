"""The user data stream parser on Binance's documented messages (nautilus_trader's fixtures)."""

from __future__ import annotations

from pathlib import Path

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import OrderStatus
from tradestack.venues.binance.user_messages import Balances, UserStreamParser

INSTRUMENTS = {
    "ETHUSDT": Instrument.from_steps("binance", "ETHUSDT", "ETH", "USDT", "0.01", "0.0001"),
    "ETHBTC": Instrument.from_steps("binance", "ETHBTC", "ETH", "BTC", "0.000001", "0.0001"),
}
FIXTURES = "nautilus_trader/crates/adapters/binance/test_data/spot/user_data_json"


def read(corpus: Path, name: str) -> bytes:
    return (corpus / FIXTURES / name).read_bytes()


def test_a_trade_carries_the_fill_with_exact_integers(corpus: Path) -> None:
    report = UserStreamParser(INSTRUMENTS).parse(read(corpus, "execution_report_trade.json"))
    assert not isinstance(report, Balances) and report is not None
    assert report.status is OrderStatus.FILLED
    assert report.client_id == "x-TD67BGP9-T0000000000000"
    assert report.filled_total == 10_000  # 1 ETH at 4 decimals
    fill = report.fill
    assert fill is not None
    assert (fill.trade_id, fill.side, fill.price, fill.size) == ("98765432", Side.BUY, 250_000, 10_000)
    assert (fill.fee, fill.fee_asset) == (100_000, "ETH")  # 0.001 ETH at 8 decimals


def test_a_cancel_has_no_fill(corpus: Path) -> None:
    report = UserStreamParser(INSTRUMENTS).parse(read(corpus, "execution_report_canceled.json"))
    assert report is not None and not isinstance(report, Balances)
    assert report.status is OrderStatus.CANCELED and report.fill is None


def test_the_websocket_api_envelope_is_unwrapped(corpus: Path) -> None:
    report = UserStreamParser(INSTRUMENTS).parse(read(corpus, "execution_report_wrapped.json"))
    assert report is not None and not isinstance(report, Balances)
    assert (report.status, report.venue_order_id) == (OrderStatus.NEW, 4293153)


def test_balances_are_free_plus_locked(corpus: Path) -> None:
    balances = UserStreamParser(INSTRUMENTS).parse(read(corpus, "account_position.json"))
    assert isinstance(balances, Balances)
    assert balances.totals == {"USDT": 12_500 * 10**8, "ETH": 5 * 10**8}


def test_cancel_reports_name_the_original_order() -> None:
    frame = (
        b'{"e":"executionReport","E":1,"s":"ETHUSDT","c":"cancel-req-1","S":"SELL","X":"CANCELED",'
        b'"x":"CANCELED","i":9,"q":"1.0000","p":"2000.00","z":"0.0000","l":"0.0000","L":"0.00",'
        b'"C":"ts1-3-7"}'
    )
    report = UserStreamParser(INSTRUMENTS).parse(frame)
    assert report is not None and not isinstance(report, Balances)
    assert report.client_id == "ts1-3-7"
