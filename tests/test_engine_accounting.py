"""Accounting, multi-route ordering, warm-up, daily balances and hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest

from candlewire.engine.strategy import Strategy
from test_engine_support import EXCHANGE, MINUTE, START_MS, SYMBOL, candles, flat, run


def test_spot_buy_reserves_quote_and_pays_the_fee_in_the_base_asset():
    seen = {}

    class SpotLimit(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 5, 100  # limit below the close 101

        def after(self):
            if self.index == 0:
                # 5 * 100 = 500 of the 1000 quote is reserved, still owned
                seen["after_submit"] = (self.balance, self.available_margin)

        def on_open_position(self, order):
            seen["held"] = self.position.qty
            self.take_profit = self.position.qty, 110

    rows = [(101, 101, 101, 101), (101, 100, 101, 100), (100, 111, 111, 100), (111, 111, 111, 111)]
    result = run(SpotLimit, rows, type="spot", fee=0.001, starting_balance=1000)
    assert seen["after_submit"] == (1000, 500)
    # bought 5, the 0.1 % fee is taken in BTC: 5 * 0.999 held
    assert seen["held"] == pytest.approx(4.995)
    (trade,) = result["trades"]
    # the trade's qty is the quantity bought, used for both legs:
    # fee = 0.001 * 5 * (100 + 110) = 1.05; PNL = 5 * 10 - 1.05
    assert trade["qty"] == 5
    assert trade["PNL"] == pytest.approx(48.95)
    # quote: 1000 - 500 + 4.995 * 110 * 0.999
    assert result["finishing_balance"] == pytest.approx(500 + 4.995 * 110 * 0.999)


def test_spot_buy_beyond_the_balance_is_insufficient_balance():
    from candlewire.engine.errors import InsufficientBalance

    class TooBig(Strategy):
        def should_long(self):
            return True

        def go_long(self):
            self.buy = 11, 100

    with pytest.raises(InsufficientBalance) as error:
        run(TooBig, [(100, 100, 100, 100)] * 2, type="spot", starting_balance=1000)
    assert error.value.rule == "insufficient_balance"


def test_futures_margin_check_uses_leverage():
    from candlewire.engine.errors import InsufficientMargin

    class Sized(Strategy):
        qty = 19

        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = self.qty, 100

    # 19 * 100 / 2 = 950 <= 1000: accepted
    assert run(Sized, flat(2), futures_leverage=2, starting_balance=1000)["trades"]

    class TooBig(Sized):
        qty = 25  # 25 * 100 / 2 = 1250 > 1000

    with pytest.raises(InsufficientMargin) as error:
        run(TooBig, flat(2), futures_leverage=2, starting_balance=1000)
    assert error.value.line is not None and error.value.filename == __file__


def test_second_route_sizes_on_a_wallet_charged_the_first_routes_fee():
    seen = {}

    class First(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price  # 100 notional, fee 0.1

    class Second(Strategy):
        def should_long(self):
            if self.index == 0:
                seen["balance"] = self.balance
            return False

        def go_long(self):
            pass

    run(First, flat(3), fee=0.001, extra_routes=[("ETH-USDT", Second, flat(3, 50))])
    # the first route's market order fills inside the second route's execution, before it decides
    assert seen["balance"] == pytest.approx(10000 - 0.1)


def test_warm_up_bars_are_visible_and_no_strategy_runs_during_warm_up():
    calls = []

    class Watcher(Strategy):
        def before(self):
            calls.append((self.time, len(self.candles), float(self.candles[0][0])))

        def should_long(self):
            return False

        def go_long(self):
            pass

    warm_rows = candles(flat(7, 90), start_ms=START_MS - 7 * MINUTE)  # 7 minutes; 2 bars of 3m fit
    warmup = {f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": warm_rows}}
    run(Watcher, flat(6), timeframe="3m", warmup=warmup, warm_up_candles=2)
    # first execution: close of the first 3m bar of the run (minute 2); the candles hold the
    # two warm-up bars (counted back from the start) plus that bar
    assert calls[0] == (START_MS + 3 * MINUTE, 3, START_MS - 6 * MINUTE)
    assert len(calls) == 2


def test_daily_balances_sample_every_1440th_minute_with_unrealized_pnl():
    class Hold(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

    # price 100 for day 1, 110 from minute 1440, 120 from minute 2880 (4300 minutes)
    prices = np.full(4300, 100.0)
    prices[1440:] = 110
    prices[2880:] = 120
    rows = [(p, p, p, p) for p in prices]
    result = run(Hold, rows, timeframe="1h")
    # long 1 from 100 (first 1h close); samples after minutes 1440 and 2880; then the final
    assert result["daily_balances"] == [10000, 10010, 10020, 10020]
    assert result["equity_curve"]["timestamps_ms"] == [
        START_MS, START_MS + 1441 * MINUTE, START_MS + 2881 * MINUTE, START_MS + 4300 * MINUTE
    ]
    assert result["benchmark"][0]["values"] == pytest.approx([10000, 11000, 12000, 12000])


def test_final_balance_replaces_a_sample_taken_in_the_last_minute():
    class Hold(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

    # 1441 minutes: the day-1 sample (after minute index 1440) is the last minute itself, so the
    # final balance takes its place instead of a second balance at the same instant
    prices = np.full(1441, 100.0)
    prices[1:] = 105
    result = run(Hold, [(p, p, p, p) for p in prices], fee=0.001)
    fees = 0.001 * 100 + 0.001 * 105  # entry + the engine's closing order
    assert result["daily_balances"] == pytest.approx([10000, 10000 + 5 - fees])
    assert result["equity_curve"]["timestamps_ms"] == [START_MS, START_MS + 1441 * MINUTE]
    assert len(result["benchmark"][0]["values"]) == 2


def test_passed_hyperparameters_replace_hp_entirely():
    seen = {}

    class Tuned(Strategy):
        def hyperparameters(self):
            return [
                {"name": "a", "type": int, "min": 1, "max": 10, "default": 1},
                {"name": "b", "type": int, "min": 1, "max": 10, "default": 2},
            ]

        def should_long(self):
            seen["hp"] = dict(self.hp)
            return False

        def go_long(self):
            pass

    run(Tuned, flat(1))
    assert seen["hp"] == {"a": 1, "b": 2}
    run(Tuned, flat(1), hyperparameters={"a": 5})
    assert seen["hp"] == {"a": 5}


def test_forming_candle_in_get_candles():
    seen = []

    class Reader(Strategy):
        def should_long(self):
            seen.append(self.get_candles(EXCHANGE, SYMBOL, "3m").copy())
            return False

        def go_long(self):
            pass

    rows = [(10, 11, 12, 9, 1), (11, 13, 14, 10, 2), (13, 12, 15, 8, 3), (12, 12, 12, 12, 4)]
    run(Reader, rows)
    # after minute 1: the 3m bucket is forming from minutes 0..1
    assert seen[1].tolist() == [[START_MS, 10, 13, 14, 9, 3]]
    # after minute 2: the bar is complete
    assert seen[2].tolist() == [[START_MS, 10, 12, 15, 8, 6]]
    # after minute 3: that bar plus a new forming one
    assert seen[3].tolist() == [[START_MS, 10, 12, 15, 8, 6], [START_MS + 3 * MINUTE, 12, 12, 12, 12, 4]]
