"""candlewire.utils against hand-computed expectations (jesse.utils semantics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from candlewire import utils


def test_size_to_qty():
    assert utils.size_to_qty(100, 50) == 2
    assert utils.size_to_qty(100, 3) == 33.333  # floored to 3 decimals
    assert utils.size_to_qty(100, 3, precision=1) == 33.3
    assert utils.size_to_qty(1000, 3, precision=0) == 333
    # fee: size reduced by 3 × fee_rate: 1000 × (1 - 0.003) / 100 = 9.97
    assert utils.size_to_qty(1000, 100, precision=5, fee_rate=0.001) == 9.97
    with pytest.raises(TypeError):
        utils.size_to_qty(math.nan, 10)
    with pytest.raises(TypeError):
        utils.size_to_qty(100, None)


def test_qty_to_size():
    assert utils.qty_to_size(2, 50) == 100
    assert utils.qty_to_size(0.5, 30) == 15
    with pytest.raises(TypeError):
        utils.qty_to_size(math.nan, 50)


def test_risk_to_size():
    # 1 % of 10 000 = 100 at risk; 100 / 0.7 per unit × 8.6 = 1228.57...
    assert round(utils.risk_to_size(10000, 1, 0.7, 8.6)) == 1229
    assert utils.risk_to_size(10000, 1, 1, 100) == 10000  # capped at the capital (would be 100 000)
    with pytest.raises(ValueError):
        utils.risk_to_size(10000, 1, 0, 100)


def test_risk_to_qty():
    # risk 1 % of 10 000 = 100; risk per unit 100 - 95 = 5 → 20 units = size 2000 → qty 20
    assert utils.risk_to_qty(10000, 1, 100, 95) == 20
    assert utils.risk_to_qty(10000, 1, 100, 105) == 20  # shorts: distance is absolute
    # 10 % of 1000 = 100 at risk / 0.5 per unit = 200 units = size 2000 → capped at 1000 → qty 100
    assert utils.risk_to_qty(1000, 10, 10, 9.5) == 100
    # binary dust is floored, as in the reference: 3 - 2.9 = 0.10000000000000009
    assert utils.risk_to_qty(10000, 1, 3, 2.9, precision=2) == 999.99
    # fee: 2000 × (1 - 0.003) / 100 = 19.94
    assert utils.risk_to_qty(10000, 1, 100, 95, fee_rate=0.001) == 19.94


def test_estimate_risk():
    assert utils.estimate_risk(100, 80) == 20
    assert utils.estimate_risk(80, 100) == 20
    with pytest.raises(TypeError):
        utils.estimate_risk(math.nan, 100)


def test_limit_stop_loss():
    assert utils.limit_stop_loss(100, 80, "long", 10) == 90
    assert utils.limit_stop_loss(100, 95, "long", 10) == 95
    assert utils.limit_stop_loss(100, 120, "short", 10) == 110
    assert utils.limit_stop_loss(100, 104, "short", 10) == 104


def test_crossed_last_bar():
    s1 = np.array([1.0, 2.0, 3.0])
    assert utils.crossed(s1, 2.5) is True
    assert utils.crossed(s1, 2.5, "above") is True
    assert utils.crossed(s1, 2.5, "below") is False
    assert utils.crossed(s1, 2.0) is True  # prev equal (<=) then above
    assert utils.crossed(s1, 1.0) is False
    down = np.array([3.0, 2.0, 1.0])
    assert utils.crossed(down, 1.5, "below") is True
    assert utils.crossed(down, 1.5, "above") is False
    assert utils.crossed(np.array([1.0, 3.0]), np.array([2.0, 2.0])) is True
    assert utils.crossed(np.array([1.0, 3.0]), np.array([0.5, 2.0])) is False
    assert utils.crossed(np.array([1.0, 3.0]), np.array([0.5, 4.0]), "below") is True
    with pytest.raises(ValueError):
        utils.crossed(s1, 1.0, "sideways")


def test_crossed_sequential():
    s1 = np.array([1.0, 3.0, 1.0, 1.0, 4.0])
    s2 = np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    assert utils.crossed(s1, s2, sequential=True).tolist() == [False, True, True, False, True]
    assert utils.crossed(s1, s2, "above", sequential=True).tolist() == [False, True, False, False, True]
    assert utils.crossed(s1, 2.0, "below", sequential=True).tolist() == [False, False, True, False, False]


def test_anchor_timeframe():
    assert utils.anchor_timeframe("1m") == "5m"
    assert utils.anchor_timeframe("15m") == "2h"
    assert utils.anchor_timeframe("45m") == "3h"
    assert utils.anchor_timeframe("1h") == "4h"
    assert utils.anchor_timeframe("2h") == "6h"
    assert utils.anchor_timeframe("4h") == "1D"
    with pytest.raises(KeyError):
        utils.anchor_timeframe("1D")
    assert utils.timeframe_to_one_minutes("4h") == 240
    assert utils.timeframe_to_one_minutes("1M") == 43200
    with pytest.raises(ValueError):
        utils.timeframe_to_one_minutes("7m")


def test_kelly_criterion():
    assert utils.kelly_criterion(0.5, 2) == 0.25
    assert utils.kelly_criterion(0.6, 1) == pytest.approx(0.2)


def test_streaks():
    prices = np.array([1, 2, 3, 2, 1, 1, 2, 5, 3], dtype=float)
    # diffs: +1 +1 -1 -1 0 +1 +3 -2
    assert utils.streaks(prices).tolist() == [1, 2, -1, -2, 0, 1, 2, -1]
    assert utils.streaks(np.array([-1.0, -2.0, 0.0, -1.0, 5.0]), use_diff=False).tolist() == [-1, -2, 0, -1, 1]


def test_strictly_monotonic():
    assert utils.strictly_increasing(np.array([5.0, 1.0, 2.0, 3.0]), 3)
    assert not utils.strictly_increasing(np.array([1.0, 2.0, 2.0]), 3)
    assert utils.strictly_decreasing(np.array([3.0, 2.0, 1.0]), 3)


def test_z_score():
    z = utils.z_score(np.array([1.0, 2.0, 3.0]))
    s = math.sqrt(2 / 3)  # population std-dev
    assert z.tolist() == pytest.approx([-1 / s, 0.0, 1 / s])


def test_prices_to_returns():
    r = utils.prices_to_returns(np.array([100.0, 110.0, 99.0]))
    assert math.isnan(r[0])
    assert r[1:].tolist() == pytest.approx([10.0, -10.0])


def test_numpy_candles_to_dataframe():
    candles = np.array([
        [1704067200000, 10, 11, 12, 9, 100],
        [1704067260000, 11, 10.5, 11.5, 10, 50],
    ], dtype=float)
    df = utils.numpy_candles_to_dataframe(candles)
    assert list(df.columns) == ["date", "open", "close", "high", "low", "volume"]
    assert df.index[0] == pd.Timestamp("2024-01-01 00:00:00")
    assert df["date"].iloc[1] == pd.Timestamp("2024-01-01 00:01:00")
    assert df["close"].tolist() == [11, 10.5]
    assert df["high"].tolist() == [12, 11.5]
    df2 = utils.numpy_candles_to_dataframe(candles, name_date="t", name_close="c")
    assert list(df2.columns) == ["t", "open", "c", "high", "low", "volume"]


def test_decimal_exact_float_arithmetic():
    assert 0.1 + 0.2 != 0.3
    assert utils.sum_floats(0.1, 0.2) == 0.3
    assert utils.subtract_floats(0.3, 0.1) == 0.2
    assert utils.subtract_floats(1.1, 1.1) == 0
    assert utils.sum_floats(0.7, -0.7) == 0
    assert utils.subtract_floats(0.003, 0.001) == 0.002
    assert utils.sum_floats(1e-8, 2e-8) == 3e-8
