"""Strategy errors name the rule broken and the line in the strategy file; timeframes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from candlewire.engine.errors import ConflictingRules, InvalidOrder, MissingMethod, ShortOnSpot
from candlewire.engine.strategy import Strategy
from candlewire.engine.timeframes import TIMEFRAMES, aggregate
from test_engine_support import flat, run


def _line_of(function) -> int:
    return inspect.getsourcelines(function)[1]


def test_both_long_and_short_is_an_error_with_the_line():
    class Both(Strategy):
        def should_long(self):
            return True

        def should_short(self):
            return True

        def go_long(self):
            pass

    with pytest.raises(ConflictingRules) as error:
        run(Both, flat(2))
    assert error.value.rule == "conflicting_rules"
    assert error.value.line == _line_of(Both.should_long) and error.value.filename == __file__
    assert f"line {error.value.line}" in str(error.value)


def test_short_on_spot_is_an_error():
    class Shorty(Strategy):
        def should_long(self):
            return False

        def should_short(self):
            return True

        def go_long(self):
            pass

    with pytest.raises(ShortOnSpot) as error:
        run(Shorty, flat(2), type="spot")
    assert error.value.line == _line_of(Shorty.should_short)


def test_zero_qty_is_an_error_at_the_assigning_line():
    class Zero(Strategy):
        def should_long(self):
            return True

        def go_long(self):
            self.buy = 0, self.price

    with pytest.raises(InvalidOrder) as error:
        run(Zero, flat(2))
    assert error.value.rule == "order_qty"
    assert error.value.line == _line_of(Zero.go_long) + 1 and error.value.filename == __file__


def test_non_positive_price_is_an_error():
    class Negative(Strategy):
        def should_long(self):
            return True

        def go_long(self):
            self.buy = 1, -5

    with pytest.raises(InvalidOrder) as error:
        run(Negative, flat(2))
    assert error.value.rule == "order_price"


def test_missing_required_method_is_an_error():
    class NoEntry(Strategy):
        def should_long(self):
            return True

    with pytest.raises(MissingMethod) as error:
        run(NoEntry, flat(2))
    assert "go_long" in str(error.value)
    assert error.value.line == inspect.getsourcelines(NoEntry)[1]


def test_aggregation_by_count_from_the_first_candle():
    one_minute = np.array(
        [
            [0, 10, 11, 12, 9, 1],
            [60_000, 11, 13, 14, 10, 2],
            [120_000, 13, 12, 15, 8, 3],
            [180_000, 12, 16, 17, 11, 4],
            [240_000, 16, 15, 16, 14, 5],
        ],
        dtype=float,
    )
    bars = aggregate(one_minute, 2)
    # (first ts, first open, last close, max high, min low, sum volume); the 5th minute is an
    # incomplete bucket and is left out
    assert bars.tolist() == [[0, 10, 13, 14, 9, 3], [120_000, 13, 16, 17, 8, 7]]
    assert TIMEFRAMES["1M"] == 30 * 1440 and TIMEFRAMES["4h"] == 240 and TIMEFRAMES["1D"] == 1440
