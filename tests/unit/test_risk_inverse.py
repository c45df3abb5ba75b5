"""Risk on inverse (COIN-M) contracts: an order is worth its contracts x contract size in USD whatever
the price, and a PnL paid in the coin counts against the daily loss limit at the mark, in USD."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tradestack.app.venue_registry import for_venue
from tradestack.config import Settings
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill, Position
from tradestack.domain.risk.engine import NANOS_PER_DAY, Exposure, KillSwitch, Reason, RiskEngine
from tradestack.domain.risk.firm import shard_report
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.commands import CancelAll, Submit
from tradestack.engine.core import Engine
from tradestack.ports import ManualClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams

USD = 10**ASSET_SCALE
SYMBOL = "BTCUSD_PERP"
COINM = replace(
    Instrument.from_steps("binance-coinm", SYMBOL, SYMBOL, "BTC", "0.1", "1"),
    kind=InstrumentKind.INVERSE,
    contract_size=100,
)
FLAT = Exposure(0, 0, 0)


def limits(loss_limit_usd: int = 500) -> RiskLimits:
    return RiskLimits(
        per_symbol={SYMBOL: SymbolLimits(max_order_size=100, max_position=500)},
        max_order_notional=5_000 * USD,
        price_band_bps=100,
        max_orders_per_second=100,
        daily_loss_limit=loss_limit_usd * USD,
    )


def test_an_inverse_order_is_worth_contracts_times_contract_size_in_usd() -> None:
    risk = RiskEngine(limits(), {SYMBOL: COINM}, KillSwitch())
    mid_x2 = 2 * COINM.price("60000")

    def reason(contracts: int) -> Reason | None:
        return risk.check(SYMBOL, Side.BUY, COINM.price("60000"), contracts, FLAT, mid_x2, 0).reason

    assert reason(50) is None  # 5,000 USD: at the limit
    decision = risk.check(SYMBOL, Side.BUY, COINM.price("60000"), 51, FLAT, mid_x2, 0)
    assert (decision.reason, decision.detail) == (Reason.NOTIONAL, f"{5_100 * USD} > {5_000 * USD}")
    # price x contracts would be 60000 x 51 "USD" at notional scale 1 = 306,000: not what an order is worth
    assert COINM.order_value(COINM.price("60000"), 51, ASSET_SCALE) == 5_100 * USD


def make_engine(tmp_path: Path, loss_limit_usd: int) -> Engine:
    journal = SqliteJournal(tmp_path / "journal.db")
    ids = ClientOrderIds("t", block_size=10)
    ids.add_block(journal.reserve_block())
    params = MarketMakerParams(
        half_spread_bps_e2=500,
        skew_bps_e2_at_max_inventory=1000,
        requote_threshold_bps_e2=200,
        order_size={SYMBOL: 10},
        max_inventory={SYMBOL: 100},
    )
    engine = Engine(
        {SYMBOL: COINM},
        MarketMaker(params),
        RiskEngine(limits(loss_limit_usd), {SYMBOL: COINM}, KillSwitch()),
        OrderManager(ids),
        journal,
        ManualClock(),
    )
    engine.trading_enabled = True
    return engine


def book(bid: str, ask: str) -> OrderBook:
    result = OrderBook(SYMBOL)
    result.load([(COINM.price(bid), 100)], [(COINM.price(ask), 100)], 1)
    return result


def buy_ten_contracts(engine: Engine) -> None:
    commands = engine.on_book(SYMBOL, book("50000.0", "50000.0"), synced=True)
    bid = next(c.order for c in commands if isinstance(c, Submit) and c.order.side is Side.BUY)
    fill = Fill(SYMBOL, "1", bid.client_id, Side.BUY, COINM.price("50000.0"), 10, 0, "BTC", 0)
    engine.on_report(OrderReport(bid.client_id, SYMBOL, OrderStatus.FILLED, 5, 10, fill, "", 0))


def test_a_coin_loss_counts_in_usd_at_the_mark(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, loss_limit_usd=200)
    buy_ten_contracts(engine)  # 1,000 USD long: 0.02 BTC at entry
    engine.on_book(SYMBOL, book("40000.0", "40000.0"), synced=True)
    # worth 0.025 BTC now: -0.005 BTC, which is -200 USD at 40,000
    assert engine.unrealized(SYMBOL) == -5 * 10**COINM.pnl_scale // 1000
    assert engine.total_pnl() == -200 * USD
    assert engine.risk.kill_switch.engaged


def test_a_coin_loss_inside_the_limit_does_not_trip(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, loss_limit_usd=201)
    buy_ten_contracts(engine)
    crash = engine.on_book(SYMBOL, book("40000.0", "40000.0"), synced=True)
    assert not any(isinstance(c, CancelAll) for c in crash)
    assert not engine.risk.kill_switch.engaged
    assert engine.realized_pnl() == 0


def test_the_firm_sees_an_inverse_position_in_its_coin() -> None:
    position = Position(COINM)
    position.apply(Fill(SYMBOL, "1", "c", Side.SELL, COINM.price("50000"), 10, 0, "BTC", 0))
    shard = shard_report("shard-0", {SYMBOL: position}, {SYMBOL: 2 * COINM.price("40000")}, kill_switch=False)
    assert shard.positions == {SYMBOL: -10 * USD}  # 10 contracts short
    assert shard.gross_notional == {"BTC": 25 * USD // 1000}  # 1,000 USD at 40,000: 0.025 BTC
    assert shard.pnl == {"BTC": 5 * USD // 1000}  # short from 0.02 BTC, now 0.025: 0.005 BTC gained


def test_a_coin_pnl_without_a_mark_waits_for_one_before_it_is_judged(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, loss_limit_usd=100)
    engine.positions[SYMBOL].realized = -5 * 10**COINM.pnl_scale // 1000  # restored: -0.005 BTC today
    engine.risk.restore_day(engine.clock.now_ns() // NANOS_PER_DAY, 0)  # ... of a day that began at 0
    # a fill found at the venue while reconciling, before any book: the loss check runs, and waits
    assert engine.recover_fill(Fill(SYMBOL, "9", "old", Side.BUY, COINM.price("50000.0"), 1, 0, "BTC", 0))
    assert not engine.risk.kill_switch.engaged  # a coin figure cannot be valued in USD without a mark
    assert engine.total_pnl() == 0
    engine.on_book(SYMBOL, book("40000.0", "40000.0"), synced=True)
    assert engine.total_pnl() == -220 * USD  # -0.005 BTC realised, -0.0005 marked, at 40,000
    assert engine.risk.kill_switch.engaged


def test_the_embedded_defaults_become_whole_contracts_on_coinm() -> None:
    settings = for_venue(Settings(), "binance-coinm")
    assert list(settings.symbols) == ["BTCUSD_PERP", "ETHUSD_PERP"]
    # 0.001 BTC at 60,000 is 0.6 of a 100 USD contract -> 1; 0.01 ETH at 3,000 is 3 contracts of 10 USD
    assert settings.strategy.order_size == {"BTCUSD_PERP": 1, "ETHUSD_PERP": 3}
    assert settings.strategy.max_inventory == {"BTCUSD_PERP": 6, "ETHUSD_PERP": 30}
    assert settings.risk.max_order_size == {"BTCUSD_PERP": 6, "ETHUSD_PERP": 30}
    assert settings.risk.max_position == {"BTCUSD_PERP": 12, "ETHUSD_PERP": 60}
    assert settings.simulator.start_prices == {"BTCUSD_PERP": 60000, "ETHUSD_PERP": 3000}
