"""Lifecycle order: cancelled entries, scale-in / partial exits, liquidate(), callbacks
across routes, DNA-decoded hyperparameters."""

from __future__ import annotations

import pytest

from candlewire.engine.strategy import Strategy
from test_engine_support import flat, run


def test_unfilled_entry_is_cancelled_at_the_next_bar_and_on_cancel_runs():
    events = []

    class Patient(Strategy):
        def should_long(self):
            events.append(("should_long", self.index))
            return self.index == 0

        def go_long(self):
            self.buy = 1, 90  # never reached

        def on_cancel(self):
            events.append(("on_cancel", self.index))

    result = run(Patient, flat(3))
    assert result["trades"] == []
    # bar 1: the entry is cancelled (should_cancel_entry defaults to True), then the
    # strategy decides again in the same execution
    assert events == [("should_long", 0), ("on_cancel", 1), ("should_long", 1), ("should_long", 2)]
    assert [o["status"] for o in result["orders"]] == ["canceled"]


def test_scale_in_and_partial_exit_fire_their_callbacks():
    events = []

    class Scaler(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

        def update_position(self):
            if self.index == 1:
                self.buy = 1, self.price  # re-assigned while open: scale in at market
            elif self.index == 2:
                self.take_profit = 1, self.price  # reduce by half at market

        def on_increased_position(self, order):
            events.append(("increased", self.position.qty, self.position.entry_price))

        def on_reduced_position(self, order):
            events.append(("reduced", self.position.qty))

    result = run(Scaler, [(100, 100, 100, 100), (110, 110, 110, 110), (120, 120, 120, 120), (130, 130, 130, 130)])
    # entry 100, add 1 at 110 -> qty 2, entry (100 + 110) / 2 = 105; sell 1 at 120 -> qty 1
    assert events == [("increased", 2, 105), ("reduced", 1)]
    (trade,) = result["trades"]
    # qty 2 bought at 105 on average; sold 1 at 120 and 1 at 130 (end): exit 125
    assert (trade["qty"], trade["entry_price"], trade["exit_price"]) == (2, 105, 125)
    assert trade["PNL"] == pytest.approx(40)


def test_increased_and_reduced_counts_follow_the_open_position_and_restart_with_the_next_one():
    seen = []

    class Counter(Strategy):
        def should_long(self):
            return self.index in (0, 4)

        def go_long(self):
            self.buy = 2, self.price

        def update_position(self):
            seen.append((self.index, self.increased_count, self.reduced_count))
            if self.index == 1:
                self.buy = 1, self.price  # differs from the entry (2 at 100): a scale-in
            elif self.index == 2:
                self.take_profit = 1, self.price
            elif self.index == 3:
                self.liquidate()

    run(Counter, [(100, 100, 100, 100)] + [(110, 110, 110, 110)] * 5)
    # bar 1 sees the fresh position, bar 2 one scale-in, bar 3 also one partial exit;
    # the position reopened at bar 4 starts again from zero
    assert seen == [(1, 0, 0), (2, 1, 0), (3, 1, 1), (5, 0, 0)]


@pytest.mark.parametrize("last_price, role", [(110, "take_profit"), (90, "stop_loss")])
def test_liquidate_exits_through_take_profit_in_profit_else_stop_loss(last_price, role):
    class Exit(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

        def update_position(self):
            self.liquidate()

    p = last_price
    result = run(Exit, [(100, 100, 100, 100), (p, p, p, p), (p, p, p, p)])
    (trade,) = result["trades"]
    assert trade["exit_price"] == last_price and trade["orders"][-1]["role"] == role
    assert trade["orders"][-1]["type"] == "market"


def test_other_routes_hear_about_position_changes():
    heard = []

    class Opener(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 1, self.price

    class Listener(Strategy):
        def should_long(self):
            return False

        def go_long(self):
            pass

        def on_route_open_position(self, strategy):
            heard.append(("open", strategy.symbol))

    run(Opener, flat(2), extra_routes=[("ETH-USDT", Listener, flat(2, 50))])
    assert heard == [("open", "BTC-USDT")]


def test_dna_decodes_hyperparameters_when_none_are_passed():
    seen = {}

    class Dna(Strategy):
        def hyperparameters(self):
            return [
                {"name": "period", "type": int, "min": 10, "max": 89, "default": 20},
                {"name": "ratio", "type": float, "min": 0.0, "max": 7.9, "default": 1.0},
            ]

        def dna(self):
            return "2w"  # ord 50 -> 10 + 10/79*79 = 20; ord 119 -> max 7.9

        def should_long(self):
            seen.update(self.hp)
            return False

        def go_long(self):
            pass

    run(Dna, flat(1))
    assert seen["period"] == 20 and seen["ratio"] == pytest.approx(7.9)
