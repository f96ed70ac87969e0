"""Statistics, regressions and price transforms."""

from __future__ import annotations

from typing import Union

import numpy as np
import talib

from .helpers import output, slice_candles, source

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
           source_type: str = "close", sequential: bool = False, ma_type: int = None) -> Number:
    """(x - MA(x, period, matype)) / STDDEV(x, period, nbdev), both TA-Lib (MA type numbers
    of TA-Lib; 0 = SMA).  ``ma_type`` is accepted as the older spelling of ``matype``.
    Only devtype 0 (standard deviation) is supported."""
    if devtype != 0:
        raise ValueError("zscore supports only devtype=0")
    if ma_type is not None:
        matype = ma_type
    x = _f(source(candles, source_type, sequential))
    means = talib.MA(x, timeperiod=period, matype=matype)
    sigmas = talib.STDDEV(x, timeperiod=period, nbdev=nbdev)
    with np.errstate(invalid="ignore", divide="ignore"):
        return output((x - means) / sigmas, sequential)


def correl(candles: np.ndarray, period: int = 5, sequential: bool = False) -> Number:
    """Pearson correlation of high and low over `period` (TA-Lib CORREL)."""
    candles = slice_candles(candles, sequential)
    return output(talib.CORREL(_f(candles[:, 3]), _f(candles[:, 4]), timeperiod=period), sequential)


def beta(candles: np.ndarray, period: int = 5, sequential: bool = False) -> Number:
    """Beta of high vs low (TA-Lib BETA, computed on returns)."""
    candles = slice_candles(candles, sequential)
    return output(talib.BETA(_f(candles[:, 3]), _f(candles[:, 4]), timeperiod=period), sequential)


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
