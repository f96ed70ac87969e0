"""Volatility indicators and bands."""

from __future__ import annotations

from collections import namedtuple
from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import output, output_tuple, rolling_sum, rolling_window, slice_candles, source

Number = Union[float, np.ndarray]

BollingerBands = namedtuple("BollingerBands", ["upperband", "middleband", "lowerband"])
KeltnerChannel = namedtuple("KeltnerChannel", ["upperband", "middleband", "lowerband"])
DonchianChannel = namedtuple("DonchianChannel", ["upperband", "middleband", "lowerband"])


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _hlc(candles):
    return _f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])


def atr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Average true range (spec recurrence: TR[0] = high - low, SMA seed at period-1,
    then a += (TR - a) / period)."""
    candles = slice_candles(candles, sequential)
    return output(kn.atr_kernel(*_hlc(candles), int(period)), sequential)


def natr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Normalized ATR, 100 * ATR / close with the spec ATR (first value at period-1)."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    with np.errstate(invalid="ignore", divide="ignore"):
        return output(kn.atr_kernel(h, l, c, int(period)) / c * 100.0, sequential)


def trange(candles: np.ndarray, sequential: bool = False) -> Number:
    """True range; the first bar, with no previous close, is high - low (no NaN)."""
    candles = slice_candles(candles, sequential)
    return output(kn.true_range_kernel(*_hlc(candles)), sequential)


def bollinger_bands(candles: np.ndarray, period: int = 20, devup: float = 2, devdn: float = 2, matype: int = 0,
                    devtype: int = 0, source_type: str = "close", sequential: bool = False) -> BollingerBands:
    """Bollinger bands: SMA +/- dev * population std-dev, both from running sums s, s^2
    (spec recurrence).  Only matype 0 (SMA) and devtype 0 (std-dev) are supported."""
    if matype != 0 or devtype != 0:
        raise ValueError("bollinger_bands supports only matype=0 and devtype=0")
    x = _f(source(candles, source_type, sequential))
    up, mid, low = kn.bbands_kernel(x, int(period), float(devup), float(devdn))
    return output_tuple(BollingerBands, (up, mid, low), sequential)


def bollinger_bands_width(candles: np.ndarray, period: int = 20, mult: float = 2, source_type: str = "close",
                          sequential: bool = False) -> Number:
    """(upper - lower) / middle of :func:`bollinger_bands` with devup = devdn = mult."""
    x = _f(source(candles, source_type, sequential))
    up, mid, low = kn.bbands_kernel(x, int(period), float(mult), float(mult))
    return output((up - low) / mid, sequential)


def keltner(candles: np.ndarray, period: int = 20, multiplier: float = 2, matype: int = 1,
            source_type: str = "close", sequential: bool = False) -> KeltnerChannel:
    """Keltner channel: middle = ma(source, period, matype) (1 = EMA, spec recurrence),
    bands = middle +/- multiplier * ATR(period) (spec ATR)."""
    from .moving_averages import ma

    candles = slice_candles(candles, sequential)
    mid = np.asarray(ma(candles, period=period, matype=matype, source_type=source_type, sequential=True),
                     dtype=np.float64)
    a = kn.atr_kernel(*_hlc(candles), int(period))
    return output_tuple(KeltnerChannel, (mid + multiplier * a, mid, mid - multiplier * a), sequential)


def donchian(candles: np.ndarray, period: int = 20, sequential: bool = False) -> DonchianChannel:
    """Donchian channel: highest high / lowest low of `period` bars and their midpoint."""
    candles = slice_candles(candles, sequential)
    up = talib.MAX(_f(candles[:, 3]), timeperiod=period)
    low = talib.MIN(_f(candles[:, 4]), timeperiod=period)
    return output_tuple(DonchianChannel, (up, (up + low) / 2, low), sequential)


def stddev(candles: np.ndarray, period: int = 5, nbdev: float = 1, source_type: str = "close",
           sequential: bool = False) -> Number:
    """Population standard deviation * nbdev (TA-Lib STDDEV)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.STDDEV(x, timeperiod=period, nbdev=nbdev), sequential)


def var(candles: np.ndarray, period: int = 14, nbdev: float = 1, source_type: str = "close",
        sequential: bool = False) -> Number:
    """Population variance (TA-Lib VAR)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.VAR(x, timeperiod=period, nbdev=nbdev), sequential)


def chop(candles: np.ndarray, period: int = 14, scalar: float = 100, drift: int = 1,
         sequential: bool = False) -> Number:
    """Choppiness index: scalar * (log10(sum of ATR(drift) over `period`) - log10(highest
    high - lowest low)) / log10(period), first at index period-1.  TR[0] = high - low;
    ATR(1) = TR, ATR(drift > 1) = SMA-seeded Wilder average of TR (a = TR/drift +
    (1 - 1/drift) a) whose NaN warm-up counts as 0 in the sums.  NaN where the sum or the
    range is not positive."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    n, p, drift = len(c), int(period), int(drift)
    res = np.full(n, np.nan)
    if n < p or p < 1:
        return output(res, sequential)
    tr = kn.true_range_kernel(h, l, c)
    if drift == 1:
        a = tr
    else:
        a = kn.wilder_average_kernel(tr, drift)
    s = rolling_sum(np.nan_to_num(a, nan=0.0), p)
    rng = np.full(n, np.nan)
    rng[p - 1:] = rolling_window(h, p).max(axis=1) - rolling_window(l, p).min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where((s > 0) & (rng > 0), scalar * (np.log10(s) - np.log10(rng)) / np.log10(p), np.nan)
    return output(res, sequential)
