"""Statistics, regressions and price transforms."""

from __future__ import annotations

import warnings
from typing import Union

import numpy as np
import talib

from .helpers import get_candle_source, output, rolling_window, slice_candles, source

Number = Union[float, np.ndarray]


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _src_period(fn, default_period, doc):
    def ind(candles: np.ndarray, period: int = default_period, source_type: str = "close",
            sequential: bool = False) -> Number:
        x = _f(source(candles, source_type, sequential))
        return output(fn(x, timeperiod=period), sequential)

    ind.__doc__ = doc
    return ind


linearreg = _src_period(talib.LINEARREG, 14, "Linear-regression end point (TA-Lib LINEARREG).")
linearreg.__name__ = linearreg.__qualname__ = "linearreg"
linearreg_slope = _src_period(talib.LINEARREG_SLOPE, 14, "Linear-regression slope (TA-Lib LINEARREG_SLOPE).")
linearreg_slope.__name__ = linearreg_slope.__qualname__ = "linearreg_slope"
linearreg_angle = _src_period(talib.LINEARREG_ANGLE, 14, "Linear-regression angle in degrees (TA-Lib).")
linearreg_angle.__name__ = linearreg_angle.__qualname__ = "linearreg_angle"
linearreg_intercept = _src_period(talib.LINEARREG_INTERCEPT, 14, "Linear-regression intercept (TA-Lib).")
linearreg_intercept.__name__ = linearreg_intercept.__qualname__ = "linearreg_intercept"
tsf = _src_period(talib.TSF, 14, "Time-series forecast, regression line one bar ahead (TA-Lib TSF).")
tsf.__name__ = tsf.__qualname__ = "tsf"


def cfo(candles: np.ndarray, period: int = 14, scalar: float = 100, source_type: str = "close",
        sequential: bool = False) -> Number:
    """Chande forecast oscillator: scalar * (x - LINEARREG(x, period)) / x."""
    x = _f(source(candles, source_type, sequential))
    return output(scalar * (x - talib.LINEARREG(x, timeperiod=period)) / x, sequential)


def zscore(candles: np.ndarray, period: int = 14, matype: int = 0, nbdev: float = 1, devtype: int = 0,
           source_type: str = "close", sequential: bool = False) -> Number:
    """(x - MA(x, period, matype)) / (dev(x, period) * nbdev).  MA is :func:`ma` with the
    reference's type numbers (0 = spec SMA, 1 = spec EMA, ...; 24 VWMA needs candles).
    dev: devtype 0 = population standard deviation of each window, 1 = mean absolute
    deviation (``_mean_ad``), 2 = median absolute deviation (``_median_ad``)."""
    from .moving_averages import ma

    candles = slice_candles(candles, sequential)
    x = _f(get_candle_source(candles, source_type))
    if matype in (24, 29):
        means = ma(candles, period=period, matype=matype, source_type=source_type, sequential=True)
    else:
        means = ma(x, period=period, matype=matype, sequential=True)
    p = int(period)
    if devtype == 0:
        sigmas = np.full(len(x), np.nan)
        if len(x) >= p:
            sigmas[p - 1:] = np.std(rolling_window(x, p), axis=1)
    elif devtype == 1:
        sigmas = _mean_ad(x, p)
    elif devtype == 2:
        sigmas = _median_ad(x, p)
    else:
        raise ValueError("devtype must be 0 (stddev), 1 (mean absolute deviation) or 2 (median absolute deviation)")
    with np.errstate(invalid="ignore", divide="ignore"):
        return output((x - np.asarray(means, dtype=np.float64)) / (sigmas * nbdev), sequential)


def _mean_ad(x, period):
    """The reference's mean absolute deviation: d[i] = |x[i] - mean of the window ending at
    i|, then the mean of the non-NaN d over each window (the first full window of d
    averages what it has)."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < period:
        return out
    d = np.full(n, np.nan)
    d[period - 1:] = np.abs(x[period - 1:] - rolling_window(x, period).mean(axis=1))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[period - 1:] = np.nanmean(rolling_window(d, period), axis=1)
    return out


def _median_ad(x, period):
    """Median absolute deviation of each window: median(|w - median(w)|) (scale 1)."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < period:
        return out
    w = rolling_window(x, period)
    med = np.median(w, axis=1)
    out[period - 1:] = np.median(np.abs(w - med[:, None]), axis=1)
    return out


def correl(candles: np.ndarray, period: int = 5, sequential: bool = False) -> Number:
    """Pearson correlation of high and low over each `period` window:
    sum(dx dy) / sqrt(sum(dx^2) sum(dy^2)) with deviations from the window means (NaN on a
    flat window); first value at period-1."""
    candles = slice_candles(candles, sequential)
    x, y = _f(candles[:, 3]), _f(candles[:, 4])
    p = int(period)
    res = np.full(len(x), np.nan)
    if 1 <= p <= len(x):
        wx, wy = rolling_window(x, p), rolling_window(y, p)
        dx_ = wx - wx.mean(axis=1)[:, None]
        dy_ = wy - wy.mean(axis=1)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            res[p - 1:] = (dx_ * dy_).sum(axis=1) / np.sqrt((dx_ ** 2).sum(axis=1) * (dy_ ** 2).sum(axis=1))
    return output(res, sequential)


def beta(candles: np.ndarray, benchmark_candles: np.ndarray, period: int = 5, sequential: bool = False) -> Number:
    """Beta of the candles' close against the benchmark candles' close (same timeframe and
    length) over `period` bars: sum((x - mean x)(y - mean y)) / sum((y - mean y)^2) of the
    prices themselves (not returns), per window; first value at period-1."""
    candles = slice_candles(candles, sequential)
    benchmark_candles = slice_candles(benchmark_candles, sequential)
    x = _f(get_candle_source(candles, "close"))
    y = _f(get_candle_source(benchmark_candles, "close"))
    if len(x) != len(y):
        raise ValueError("beta needs candles and benchmark_candles of the same length")
    p = int(period)
    res = np.full(len(x), np.nan)
    if len(x) >= p:
        wx, wy = rolling_window(x, p), rolling_window(y, p)
        dx_ = wx - wx.mean(axis=1)[:, None]
        dy_ = wy - wy.mean(axis=1)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            res[p - 1:] = (dx_ * dy_).sum(axis=1) / (dy_ ** 2).sum(axis=1)
    return output(res, sequential)


def medprice(candles: np.ndarray, sequential: bool = False) -> Number:
    """(high + low) / 2 (TA-Lib MEDPRICE)."""
    candles = slice_candles(candles, sequential)
    return output(talib.MEDPRICE(_f(candles[:, 3]), _f(candles[:, 4])), sequential)


def typprice(candles: np.ndarray, sequential: bool = False) -> Number:
    """(high + low + close) / 3 (TA-Lib TYPPRICE)."""
    candles = slice_candles(candles, sequential)
    return output(talib.TYPPRICE(_f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])), sequential)


def wclprice(candles: np.ndarray, sequential: bool = False) -> Number:
    """(high + low + 2*close) / 4 (TA-Lib WCLPRICE)."""
    candles = slice_candles(candles, sequential)
    return output(talib.WCLPRICE(_f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])), sequential)


def avgprice(candles: np.ndarray, sequential: bool = False) -> Number:
    """(open + high + low + close) / 4 (TA-Lib AVGPRICE)."""
    candles = slice_candles(candles, sequential)
    return output(talib.AVGPRICE(_f(candles[:, 1]), _f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])),
                  sequential)
