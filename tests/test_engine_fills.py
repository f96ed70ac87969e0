"""Fill rules of the spec, each on a handmade candle array with the arithmetic written out.
Rows are (open, close, high, low); a strategy on the 1m timeframe runs at every minute's
close; the run ends with a forced close at the last close."""

from __future__ import annotations

import pytest

from candlewire.engine.strategy import Strategy
from test_engine_support import MINUTE, START_MS, run


def once(method):
    """Decorate should_long/should_short: True only on the first bar."""
    def wrapper(self):
        return self.index == 0 and method(self)
    return wrapper


def test_market_entry_fills_at_the_close_and_the_end_closes_with_fees():
    class Long(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

    result = run(Long, [(100, 101, 102, 99), (101, 105, 106, 100), (105, 110, 111, 104)], fee=0.001)
    (trade,) = result["trades"]
    # entry at minute 0's close 101, at that minute's close time; forced exit at the last close 110
    assert trade["entry_price"] == 101 and trade["exit_price"] == 110
    assert trade["opened_at"] == START_MS + MINUTE and trade["closed_at"] == START_MS + 3 * MINUTE
    # fee = 0.001 * 1 * (101 + 110) = 0.211; PNL = 1 * (110 - 101) - 0.211 = 8.789
    assert trade["fee"] == pytest.approx(0.211)
    assert trade["PNL"] == pytest.approx(8.789)
    assert trade["PNL_percentage"] == pytest.approx(8.789 / 101 * 100)
    assert trade["holding_period"] == 120
    # wallet: 10000 - 0.101 (entry fee) + 9 (realized) - 0.110 (exit fee)
    assert result["finishing_balance"] == pytest.approx(10008.789)
    roles = [o["role"] for o in trade["orders"]]
    assert roles == ["entry", "close"]


class LimitWithExits(Strategy):
    """Limit buy at 98 from a close of 101, stop-loss 96, take-profit 103."""

    def should_long(self):
        return self.index == 0

    def go_long(self):
        self.buy = 1, 98
        self.stop_loss = 1, 96
        self.take_profit = 1, 103

    def on_open_position(self, order):
        self.vars["seen_at_fill"] = (self.price, float(self.candles[-1][2]), self.time)


def test_green_candle_path_fills_entry_then_take_profit_in_one_minute():
    # minute 1 is green: path 101 -> low 97 -> high 105 -> close 104.
    # 98 is touched on the way down (entry), the take-profit at 103 on the way up.
    result = run(LimitWithExits, [(100, 101, 101, 100), (101, 104, 105, 97), (104, 104, 104, 104)])
    (trade,) = result["trades"]
    assert (trade["entry_price"], trade["exit_price"]) == (98, 103)
    assert trade["closed_at"] == START_MS + 2 * MINUTE
    assert trade["PNL"] == pytest.approx(5)
    assert [o["type"] for o in trade["orders"]] == ["limit", "limit"]


def test_red_candle_path_fills_entry_then_stop_loss_in_one_minute():
    # minute 1 is red: path 101 -> high 104 -> low 95 -> close 99. The take-profit (103) is
    # passed before the entry exists; going down, 98 fills the entry, then 96 the stop.
    result = run(LimitWithExits, [(100, 101, 101, 100), (101, 99, 104, 95), (99, 99, 99, 99)])
    (trade,) = result["trades"]
    assert (trade["entry_price"], trade["exit_price"]) == (98, 96)
    assert trade["PNL"] == pytest.approx(-2)
    assert [o["type"] for o in trade["orders"]] == ["limit", "stop"]


def test_callbacks_during_a_mid_minute_fill_see_the_fill_price_and_forming_candle():
    seen = {}

    class Probe(LimitWithExits):
        def on_open_position(self, order):
            seen["fill"] = (self.price, float(self.candles[-1][2]), float(self.candles[-1][4]), self.time)

    run(Probe, [(100, 101, 101, 100), (101, 104, 105, 97), (104, 104, 104, 104)])
    # price = fill price 98; the 1m forming candle closes at 98 and has walked 101 -> 98;
    # time = minute 1's close time
    assert seen["fill"] == (98, 98, 98, START_MS + 2 * MINUTE)


def test_buy_stop_entry_fills_at_its_price():
    class BuyStop(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, 103  # above the close 101: a stop order

    # green minute 1: 101 -> 100 -> 105 -> 104, crossing 103 on the way up
    result = run(BuyStop, [(100, 101, 101, 100), (101, 104, 105, 100), (104, 106, 106, 104)])
    (trade,) = result["trades"]
    assert trade["orders"][0]["type"] == "stop"
    assert (trade["entry_price"], trade["exit_price"]) == (103, 106)


class HoldWithExits(Strategy):
    """Market long at 100, stop-loss 95, take-profit 105."""

    def should_long(self):
        return self.index == 0

    def go_long(self):
        self.buy = 1, self.price
        self.stop_loss = 1, 95
        self.take_profit = 1, 105


@pytest.mark.parametrize(
    "minute, exit_price",
    [
        ((100, 104, 106, 94), 95),  # green: open -> low 94 (stop 95 first) -> high
        ((100, 96, 106, 94), 105),  # red: open -> high 106 (take-profit 105 first) -> low
    ],
)
def test_stop_loss_and_take_profit_in_the_same_minute_follow_the_path(minute, exit_price):
    result = run(HoldWithExits, [(100, 100, 100, 100), minute, (100, 100, 100, 100)])
    (trade,) = result["trades"]
    assert trade["exit_price"] == exit_price
    assert len(result["trades"]) == 1


def test_gap_through_a_stop_fills_at_the_open():
    # previous close 100, next open 90: the stop at 95 is crossed by the gap -> fills at 90
    result = run(HoldWithExits, [(100, 100, 100, 100), (90, 92, 93, 89), (92, 92, 92, 92)])
    (trade,) = result["trades"]
    assert trade["exit_price"] == 90
    assert trade["PNL"] == pytest.approx(-10)


def test_gap_through_a_limit_entry_fills_at_the_open():
    class BuyLimit(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, 95

    result = run(BuyLimit, [(100, 100, 100, 100), (90, 92, 93, 89), (92, 92, 92, 92)])
    (trade,) = result["trades"]
    assert trade["entry_price"] == 90


def test_a_non_reduce_order_larger_than_the_position_flips_it():
    class Flip(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price
            # a stop-loss above the entry is on the wrong side: it becomes a market sell of
            # 2 that is not reduce-only, so it closes the long and opens a short of 1
            self.stop_loss = 2, 101

    result = run(Flip, [(100, 100, 100, 100), (100, 98, 100, 98), (98, 95, 98, 95)], fee=0.001)
    long, short = result["trades"]
    # long: entry 100, exit 100, fee 0.001 * 1 * 200 = 0.2, PNL -0.2
    assert (long["type"], long["entry_price"], long["exit_price"]) == ("long", 100, 100)
    assert long["PNL"] == pytest.approx(-0.2)
    # short of 1 from 100, forced close at 95: fee 0.001 * (100 + 95) = 0.195, PNL 5 - 0.195
    assert (short["type"], short["qty"], short["exit_price"]) == ("short", 1, 95)
    assert short["PNL"] == pytest.approx(4.805)
    # wallet: -0.1 (buy fee) -0.2 (sell 2 fee) +5 (short profit) -0.095 (close fee)
    assert result["finishing_balance"] == pytest.approx(10004.605)


def test_reduce_only_take_profit_larger_than_the_position_fills_only_its_size():
    class BigTakeProfit(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price
            self.take_profit = 3, 105

    result = run(BigTakeProfit, [(100, 100, 100, 100), (100, 106, 106, 100), (106, 106, 106, 106)], fee=0.001)
    (trade,) = result["trades"]
    assert trade["qty"] == 1 and trade["exit_price"] == 105
    exit_order = trade["orders"][-1]
    assert exit_order["qty"] == 1 and exit_order["reduce_only"]
    # fees: 0.1 on entry + 0.001 * 1 * 105 on exit; profit 5
    assert result["finishing_balance"] == pytest.approx(10000 - 0.1 + 5 - 0.105)


def test_isolated_position_is_liquidated_at_the_bankruptcy_price():
    class Leveraged(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 10, self.price  # 1000 notional at 10x: 100 margin

    rows = [(100, 100, 100, 100), (100, 95, 100, 90), (95, 97, 97, 95)]
    isolated = run(Leveraged, rows, futures_leverage=10, futures_leverage_mode="isolated")
    (trade,) = isolated["trades"]
    # liquidation price 100 * (1 - 1/10 + 0.004) = 90.4 is touched by the low 90;
    # the position closes at the bankruptcy price 100 * (1 - 1/10) = 90: loss 10 * 10
    assert trade["exit_price"] == pytest.approx(90)
    assert trade["orders"][-1]["role"] == "liquidation"
    assert isolated["finishing_balance"] == pytest.approx(9900)
    cross = run(Leveraged, rows, futures_leverage=10, futures_leverage_mode="cross")
    (trade,) = cross["trades"]
    assert trade["exit_price"] == 97  # never liquidated: closed at the end
