"""Strategy helpers with the ``jesse.utils`` names and semantics
(``from candlewire import utils`` is a drop-in for ``from jesse import utils``)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Union

import numpy as np
import pandas as pd

from candlewire.indicators.helpers import np_shift, same_length

__all__ = [
    "anchor_timeframe", "crossed", "estimate_risk", "kelly_criterion", "limit_stop_loss",
    "numpy_candles_to_dataframe", "prices_to_returns", "qty_to_size", "risk_to_qty", "risk_to_size",
    "size_to_qty", "streaks", "strictly_decreasing", "strictly_increasing", "subtract_floats", "sum_floats",
    "timeframe_to_one_minutes", "z_score", "floor_with_precision",
]

TIMEFRAME_TO_ONE_MINUTES = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "45m": 45,
    "1h": 60, "2h": 120, "3h": 180, "4h": 240, "6h": 360, "8h": 480, "12h": 720,
    "1D": 1440, "3D": 4320, "1W": 10080, "1M": 43200,
}

_ANCHORS = {
    "1m": "5m", "3m": "15m", "5m": "30m", "15m": "2h", "30m": "3h", "45m": "3h",
    "1h": "4h", "2h": "6h", "3h": "1D", "4h": "1D", "6h": "1D", "8h": "1D", "12h": "1D",
}


def anchor_timeframe(timeframe: str) -> str:
    """The conventional higher 'anchor' timeframe for multi-timeframe strategies
    (1m→5m, 3m→15m, 5m→30m, 15m→2h, 30m/45m→3h, 1h→4h, 2h→6h, 3h..12h→1D)."""
    try:
        return _ANCHORS[timeframe]
    except KeyError:
        raise KeyError(timeframe) from None


def timeframe_to_one_minutes(timeframe: str) -> int:
    """Number of 1m candles in `timeframe` (1M = 30 days)."""
    try:
        return TIMEFRAME_TO_ONE_MINUTES[timeframe]
    except KeyError:
        raise ValueError(
            f'Timeframe "{timeframe}" is invalid. Supported timeframes are {", ".join(TIMEFRAME_TO_ONE_MINUTES)}.'
        ) from None


def floor_with_precision(num: float, precision: int = 0) -> float:
    temp = 10 ** precision
    return math.floor(num * temp) / temp


def _check_numbers(*values) -> None:
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise TypeError(f"expected a number, got {v!r}")


def size_to_qty(position_size: float, entry_price: float, precision: int = 3, fee_rate: float = 0) -> float:
    """Position size (quote) → quantity, floored to `precision` decimals.  With a fee rate
    the size is first reduced by 3 × fee_rate (room for entry + exit fees)."""
    _check_numbers(position_size, entry_price)
    if fee_rate != 0:
        position_size *= 1 - fee_rate * 3
    return floor_with_precision(position_size / entry_price, precision)


def qty_to_size(qty: float, price: float) -> float:
    """Quantity → position size (quote): qty × price."""
    _check_numbers(qty, price)
    return qty * price


def risk_to_size(capital_size: float, risk_percentage: float, risk_per_qty: float, entry_price: float) -> float:
    """Position size risking `risk_percentage` % of the capital when each unit risks
    `risk_per_qty`; never more than the capital."""
    if risk_per_qty == 0:
        raise ValueError("risk cannot be zero")
    risk_percentage /= 100
    temp_size = ((risk_percentage * capital_size) / risk_per_qty) * entry_price
    return min(temp_size, capital_size)


def risk_to_qty(capital: float, risk_per_capital: float, entry_price: float, stop_loss_price: float,
                precision: int = 8, fee_rate: float = 0) -> float:
    """Quantity risking `risk_per_capital` % of the capital between entry and stop."""
    risk_per_qty = abs(entry_price - stop_loss_price)
    size = risk_to_size(capital, risk_per_capital, risk_per_qty, entry_price)
    return size_to_qty(size, entry_price, precision=precision, fee_rate=fee_rate)


def estimate_risk(entry_price: float, stop_price: float) -> float:
    """Risk per unit: |entry - stop|."""
    if math.isnan(entry_price) or math.isnan(stop_price):
        raise TypeError("entry_price and stop_price must be numbers")
    return abs(entry_price - stop_price)


def limit_stop_loss(entry_price: float, stop_price: float, trade_type: str, max_allowed_risk_percentage: float) -> float:
    """Pull the stop closer so it risks at most `max_allowed_risk_percentage` % of the entry."""
    risk = min(abs(entry_price - stop_price), entry_price * (max_allowed_risk_percentage / 100))
    return (entry_price - risk) if trade_type == "long" else (entry_price + risk)


def crossed(series1: np.ndarray, series2: Union[float, int, np.ndarray], direction: str = None,
            sequential: bool = False):
    """Did `series1` cross `series2` (a series or a constant) on the last bar?

    above: prev s1 <= prev s2 and s1 > s2; below: prev s1 >= prev s2 and s1 < s2;
    direction None = either.  sequential=True returns a boolean array (False on bar 0).
    """
    if direction not in (None, "above", "below"):
        raise ValueError('direction must be None, "above" or "below"')
    series1 = np.asarray(series1, dtype=np.float64)
    if sequential:
        s1_prev = np_shift(series1, 1, np.nan)
        if isinstance(series2, np.ndarray):
            s2 = series2.astype(np.float64)
            s2_prev = np_shift(s2, 1, np.nan)
        else:
            s2 = s2_prev = float(series2)
        above = (series1 > s2) & (s1_prev <= s2_prev)
        below = (series1 < s2) & (s1_prev >= s2_prev)
    else:
        if isinstance(series2, np.ndarray):
            a_prev, a_now = float(series2[-2]), float(series2[-1])
        else:
            a_prev = a_now = float(series2)
        above = bool(series1[-2] <= a_prev and series1[-1] > a_now)
        below = bool(series1[-2] >= a_prev and series1[-1] < a_now)
    if direction == "above":
        return above
    if direction == "below":
        return below
    return above | below


def kelly_criterion(win_rate: float, ratio_avg_win_loss: float) -> float:
    """Kelly fraction: win_rate - (1 - win_rate) / ratio_avg_win_loss."""
    return win_rate - ((1 - win_rate) / ratio_avg_win_loss)


def streaks(series: np.ndarray, use_diff: bool = True) -> np.ndarray:
    """Signed run lengths: +k on the k-th consecutive positive value, -k on the k-th
    consecutive negative value, 0 on a zero.  With use_diff (default) the input is a price
    series and the streaks are those of its first differences (length n - 1)."""
    series = np.asarray(series, dtype=np.float64)
    if use_diff:
        series = np.diff(series)
    n = len(series)
    if n == 0:
        return np.array([], dtype=np.float64)
    sign = np.sign(series)
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = sign[1:] != sign[:-1]
    idx = np.arange(n)
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    return ((idx - run_start + 1) * sign).astype(np.float64)


def strictly_increasing(series: np.ndarray, lookback: int) -> bool:
    return bool(np.all(np.diff(np.asarray(series)[-lookback:]) > 0))


def strictly_decreasing(series: np.ndarray, lookback: int) -> bool:
    return bool(np.all(np.diff(np.asarray(series)[-lookback:]) < 0))


def z_score(series: np.ndarray) -> np.ndarray:
    """(x - mean) / population std-dev of the whole series."""
    series = np.asarray(series, dtype=np.float64)
    return (series - np.mean(series)) / np.std(series)


def prices_to_returns(price_series: np.ndarray) -> np.ndarray:
    """Percentage returns (× 100) of a price series, NaN first so lengths match."""
    price_series = np.asarray(price_series, dtype=np.float64)
    pct = np.diff(price_series) / price_series[:-1] * 100
    return same_length(price_series, pct)


def numpy_candles_to_dataframe(candles: np.ndarray, name_date: str = "date", name_open: str = "open",
                               name_high: str = "high", name_low: str = "low", name_close: str = "close",
                               name_volume: str = "volume") -> pd.DataFrame:
    """Candles → DataFrame indexed by the open time; columns in the candle row order
    (date, open, close, high, low, volume) with `date` as datetimes."""
    candles = np.asarray(candles)
    columns = [name_date, name_open, name_close, name_high, name_low, name_volume]
    index = pd.to_datetime(candles[:, 0], unit="ms")
    df = pd.DataFrame(data=candles, index=index, columns=columns)
    df[name_date] = index
    return df


def sum_floats(float1: float, float2: float) -> float:
    """float1 + float2 computed in decimal on their shortest reprs (no binary dust)."""
    return float(Decimal(repr(float1)) + Decimal(repr(float2)))


def subtract_floats(float1: float, float2: float) -> float:
    """float1 - float2 computed in decimal on their shortest reprs (no binary dust)."""
    return float(Decimal(repr(float1)) - Decimal(repr(float2)))
