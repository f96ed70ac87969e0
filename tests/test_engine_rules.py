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


def test_routes_on_different_timeframes_each_decide_at_their_own_bar_closes():
    """A 5m route and a 15m route over the same 30 minutes: the 5m one runs at minutes 5, 10, …, 30
    (6 times), the 15m one at 15 and 30 (twice), each seeing its own bars; at a shared close the
    routes run in list order."""
    from candlewire.engine.backtest import run_backtest
    from test_engine_support import EXCHANGE, candles, config

    seen = []

    def watcher(name):
        class Watcher(Strategy):
            def should_long(self):
                seen.append((name, self.time, len(self.candles), self.candles[-1][2]))
                return False

            def go_long(self):
                pass

        return Watcher

    rows = [(100 + i, 100 + i + 0.5, 101 + i, 99 + i) for i in range(30)]
    array = candles(rows)
    market = {"exchange": EXCHANGE, "symbol": "BTC-USDT", "candles": array}
    routes = [
        {"exchange": EXCHANGE, "symbol": "BTC-USDT", "timeframe": "5m", "strategy": watcher("5m")},
        {"exchange": EXCHANGE, "symbol": "ETH-USDT", "timeframe": "15m", "strategy": watcher("15m")},
    ]
    run_backtest(config(), routes, [], {f"{EXCHANGE}-BTC-USDT": market, f"{EXCHANGE}-ETH-USDT": {**market, "symbol": "ETH-USDT"}})

    start = array[0, 0]
    minute = 60_000
    expected_5m = [("5m", start + k * 5 * minute, k, rows[k * 5 - 1][1]) for k in range(1, 7)]
    expected_15m = [("15m", start + k * 15 * minute, k, rows[k * 15 - 1][1]) for k in range(1, 3)]
    assert [s for s in seen if s[0] == "5m"] == expected_5m
    assert [s for s in seen if s[0] == "15m"] == expected_15m
    # At minute 15 and 30 both routes decide, the 5m route (listed first) before the 15m one.
    assert seen.index(expected_5m[2]) < seen.index(expected_15m[0])
