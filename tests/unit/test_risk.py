"""Pre-trade risk: each limit, the latched kill switch, and a property that nothing passes a limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.engine import Exposure, KillSwitch, Reason, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits

BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.00001")
MID_X2 = 2 * BTC.price("50000.00")
FLAT = Exposure(0, 0, 0)


def engine(**overrides: int) -> RiskEngine:
    settings = {
        "max_order_notional": 1000 * 10**ASSET_SCALE,
        "price_band_bps": 100,
        "max_orders_per_second": 3,
        "daily_loss_limit": 500 * 10**ASSET_SCALE,
    } | overrides
    limits = RiskLimits(
        per_symbol={"BTCUSDT": SymbolLimits(max_order_size=BTC.size("0.01"), max_position=BTC.size("0.02"))},
        **settings,
    )
    return RiskEngine(limits, {"BTCUSDT": BTC}, KillSwitch())


def check(
    risk: RiskEngine,
    price: str = "49990.00",
    size: str = "0.001",
    side: Side = Side.BUY,
    exposure: Exposure = FLAT,
    now: int = 0,
) -> Reason | None:
    return risk.check("BTCUSDT", side, BTC.price(price), BTC.size(size), exposure, MID_X2, now).reason


def test_a_reasonable_order_passes() -> None:
    assert check(engine()) is None


def test_each_limit_names_its_reason() -> None:
    assert check(engine(), size="0.011") is Reason.SIZE
    assert check(engine(max_order_notional=10 * 10**ASSET_SCALE)) is Reason.NOTIONAL
    assert check(engine(), exposure=Exposure(BTC.size("0.016"), BTC.size("0.004"), 0)) is Reason.POSITION
    assert check(engine(), price="49000.00") is Reason.PRICE_BAND
    no_book = engine().check("BTCUSDT", Side.BUY, 1, 1, FLAT, None, 0)
    assert no_book.reason is Reason.BOOK_NOT_SYNCED


def test_order_rate_is_a_sliding_one_second_window() -> None:
    risk = engine()
    assert [check(risk, now=t) for t in (0, 1, 2, 3)] == [None, None, None, Reason.RATE]
    assert check(risk, now=1_000_000_000) is None  # the first order left the window


def test_loss_limit_latches_the_kill_switch_and_only_reducing_orders_pass() -> None:
    risk = engine()
    day = 20_000 * 86_400 * 10**9
    assert not risk.on_pnl(0, day)
    assert risk.on_pnl(-500 * 10**ASSET_SCALE, day + 1)
    assert risk.kill_switch.engaged
    assert not risk.on_pnl(0, day + 2)  # a recovery does not unlatch it
    assert risk.kill_switch.engaged
    long = Exposure(BTC.size("0.005"), 0, 0)
    assert check(risk, side=Side.BUY, exposure=long) is Reason.KILL_SWITCH
    assert check(risk, side=Side.SELL, price="50010.00", exposure=long) is None
    risk.kill_switch.reset()
    assert check(risk, side=Side.BUY, exposure=long, now=5) is None


@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    price=st.integers(1, 10**8),
    size=st.integers(1, 10**4),
    position=st.integers(-(10**4), 10**4),
    open_buy=st.integers(0, 10**4),
    open_sell=st.integers(0, 10**4),
)
def test_no_accepted_order_breaks_a_limit(
    side: Side, price: int, size: int, position: int, open_buy: int, open_sell: int
) -> None:
    risk = engine()
    decision = risk.check("BTCUSDT", side, price, size, Exposure(position, open_buy, open_sell), MID_X2, 0)
    if decision.accepted:
        limits = risk.limits.per_symbol["BTCUSDT"]
        assert size <= limits.max_order_size
        assert price * size * 10 ** (ASSET_SCALE - BTC.notional_scale) <= risk.limits.max_order_notional
        assert abs(2 * price - MID_X2) * 10_000 <= risk.limits.price_band_bps * MID_X2
        after = position + side.sign * size
        worst = max(
            abs(position + open_buy + size * (side is Side.BUY)),
            abs(position - open_sell - size * (side is Side.SELL)),
        )
        assert worst <= limits.max_position or abs(after) < abs(position)


def test_the_order_rate_window_survives_a_restart() -> None:
    # three orders went out 0.2 s before the crash; the restarted engine may not send a fourth yet
    wall = 1_700_000_000 * 10**9
    risk = engine()
    risk.restore_rate([wall - 200_000_000] * 3 + [wall - 5 * 10**9], now_wall_ns=wall, now_mono_ns=10**9)
    assert check(risk, now=10**9) is Reason.RATE
    assert check(risk, now=10**9 + 800_000_000) is None  # once those left the window
