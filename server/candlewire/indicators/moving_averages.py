"""Moving averages."""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import output, rolling_window, same_length, slice_candles, source

Number = Union[float, np.ndarray]


def _f(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def sma(candles: np.ndarray, period: int = 5, source_type: str = "close", sequential: bool = False) -> Number:
    """Simple moving average (spec running-sum recurrence)."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.sma_kernel(x, int(period)), sequential)


def ema(candles: np.ndarray, period: int = 5, source_type: str = "close", sequential: bool = False) -> Number:
    """Exponential moving average, starting at the first value (spec recurrence)."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.ema_kernel(x, int(period)), sequential)


def smma(candles: np.ndarray, period: int = 5, source_type: str = "close", sequential: bool = False) -> Number:
    """Smoothed moving average as the reference computes it: the adjusted exponentially
    weighted mean with alpha = 1/period (weights (1 - alpha)^age over every bar so far,
    normalised by their sum).  No seed, no NaN prefix."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.smma_kernel(x, int(period)), sequential)


def wma(candles: np.ndarray, period: int = 30, source_type: str = "close", sequential: bool = False) -> Number:
    """Linearly weighted moving average (TA-Lib WMA)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.WMA(x, timeperiod=period), sequential)


def dema(candles: np.ndarray, period: int = 30, source_type: str = "close", sequential: bool = False) -> Number:
    """Double EMA 2*e1 - e2, e1 = EMA(x), e2 = EMA(e1), both the spec EMA (start at the
    first value, no NaN prefix) as the reference computes it (not TA-Lib's DEMA)."""
    x = _f(source(candles, source_type, sequential))
    e1 = kn.ema_kernel(x, int(period))
    e2 = kn.ema_kernel(e1, int(period))
    return output(2.0 * e1 - e2, sequential)


def tema(candles: np.ndarray, period: int = 9, source_type: str = "close", sequential: bool = False) -> Number:
    """Triple EMA 3*e1 - 3*e2 + e3 of cascaded spec EMAs (start at the first value)."""
    x = _f(source(candles, source_type, sequential))
    e1 = kn.ema_kernel(x, int(period))
    e2 = kn.ema_kernel(e1, int(period))
    e3 = kn.ema_kernel(e2, int(period))
    return output(3.0 * e1 - 3.0 * e2 + e3, sequential)


def trima(candles: np.ndarray, period: int = 30, source_type: str = "close", sequential: bool = False) -> Number:
    """Triangular moving average (TA-Lib TRIMA)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.TRIMA(x, timeperiod=period), sequential)


def kama(candles: np.ndarray, period: int = 14, fast_length: int = 2, slow_length: int = 30,
         source_type: str = "close", sequential: bool = False) -> Number:
    """Kaufman adaptive moving average (see ``_kernels.kama_kernel``): equal to the
    source for the first `period` bars (no NaN prefix), then adapts between the EMA
    speeds of `fast_length` and `slow_length`."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.kama_kernel(x, int(period), int(fast_length), int(slow_length)), sequential)


def t3(candles: np.ndarray, period: int = 5, vfactor: float = 0, source_type: str = "close",
       sequential: bool = False) -> Number:
    """Tillson T3 from six cascaded spec EMAs (each started at its first value, no NaN
    prefix): w1 e6 + w2 e5 + w3 e4 + w4 e3 with v = vfactor, w1 = -v^3,
    w2 = 3v^2 + 3v^3, w3 = -6v^2 - 3v - 3v^3, w4 = 1 + 3v + v^3 + 3v^2."""
    x = _f(source(candles, source_type, sequential))
    v = float(vfactor)
    e = [x]
    for _ in range(6):
        e.append(kn.ema_kernel(e[-1], int(period)))
    w1 = -v ** 3
    w2 = 3 * v ** 2 + 3 * v ** 3
    w3 = -6 * v ** 2 - 3 * v - 3 * v ** 3
    w4 = 1 + 3 * v + v ** 3 + 3 * v ** 2
    return output(w1 * e[6] + w2 * e[5] + w3 * e[4] + w4 * e[3], sequential)


def hma(candles: np.ndarray, period: int = 5, source_type: str = "close", sequential: bool = False) -> Number:
    """Hull MA as the reference computes it: WMA(2*WMA(x, p/2) - WMA(x, p), sqrt(p)) with
    the periods truncated to int and every WMA's warm-up taken as 0 instead of NaN, so the
    series has no NaN (its first bars are 0 / partial values)."""
    x = _f(source(candles, source_type, sequential))
    half = max(int(period / 2), 1)
    sq = max(int(math.sqrt(period)), 1)
    diff = 2 * _wma0(x, half) - _wma0(x, int(period))
    return output(_wma0(_f(diff), sq), sequential)


def _wma0(x, period):
    """TA-Lib WMA with its NaN warm-up replaced by 0 (the input itself for period 1)."""
    if period <= 1:
        return x.copy()
    if len(x) < period:
        return np.zeros(len(x))
    return np.nan_to_num(talib.WMA(x, timeperiod=period), nan=0.0)


def vwma(candles: np.ndarray, period: int = 20, source_type: str = "close", sequential: bool = False) -> Number:
    """Volume-weighted MA: sum(src*volume) / sum(volume) over the last `period` bars, from
    differences of running (cumulative) sums as the reference does; the first period-1
    bars use the partial window since bar 0.  NaN when the window's volume is 0."""
    candles = slice_candles(candles, sequential)
    x = _f(source(candles, source_type, True))
    vol = _f(candles[:, 5])
    n = len(x)
    if n == 0:
        return output(np.full(0, np.nan), sequential)
    cs_pv = np.cumsum(x * vol)
    cs_v = np.cumsum(vol)
    num = cs_pv.copy()
    den = cs_v.copy()
    if n > period:
        num[period:] = cs_pv[period:] - cs_pv[:-period]
        den[period:] = cs_v[period:] - cs_v[:-period]
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(den == 0.0, np.nan, num / den)
    return output(res, sequential)


def zlema(candles: np.ndarray, period: int = 20, source_type: str = "close", sequential: bool = False) -> Number:
    """Zero-lag EMA: EMA (a = 2/(period+1)) of x[i] + (x[i] - x[i-lag]), lag = (period-1)//2,
    started at index lag with its own value; all NaN when there are <= period bars."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.zlema_kernel(x, int(period)), sequential)


def alma(candles: np.ndarray, period: int = 9, sigma: float = 6.0, distribution_offset: float = 0.85,
         source_type: str = "close", sequential: bool = False) -> Number:
    """Arnaud Legoux MA: Gaussian weights exp(-(i-m)^2 / (2 s^2)), m = offset*(p-1),
    s = p/sigma, normalised; window oldest..newest."""
    x = _f(source(candles, source_type, sequential))
    if len(x) < period:
        return output(np.full(len(x), np.nan), sequential)
    m = distribution_offset * (period - 1)
    s = period / sigma
    i = np.arange(period)
    w = np.exp(-((i - m) ** 2) / (2 * s * s))
    res = rolling_window(x, period) @ (w / w.sum())
    return output(same_length(x, res), sequential)


def frama(candles: np.ndarray, window: int = 10, FC: int = 1, SC: int = 300, sequential: bool = False) -> Number:
    """Fractal adaptive MA on close (an odd window is rounded up to even)."""
    candles = slice_candles(candles, sequential)
    n = int(window)
    if n % 2 == 1:
        n += 1
    res = kn.frama_kernel(_f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2]), n, float(FC), float(SC))
    return output(res, sequential)


def jma(candles: np.ndarray, period: int = 7, phase: float = 50, power: int = 2, source_type: str = "close",
        sequential: bool = False) -> Number:
    """Jurik moving average."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.jma_kernel(x, int(period), float(phase), int(power)), sequential)


# MA type numbers are the reference's (``jesse.indicators.ma``); the ones it defines that
# candlewire does not implement raise ValueError, as do 7, 8 and 19 there.
_MA_TYPES = {
    0: sma, 1: ema, 2: wma, 3: dema, 4: tema, 5: trima, 6: kama, 10: hma, 20: jma, 23: smma,
    24: vwma, 27: alma,
}
_MA_NAMES = {
    9: "fwma", 12: "wilders", 13: "sinwma", 14: "supersmoother", 15: "supersmoother_3_pole",
    16: "gauss", 17: "high_pass", 18: "high_pass_2_pole", 21: "reflex", 22: "trendflex", 25: "pwma",
    26: "swma", 28: "hwma", 29: "vwap", 30: "nma", 31: "edcf", 32: "mwdx", 33: "maaq", 34: "srwma",
    35: "sqwma", 36: "vpwma", 37: "cwma", 38: "jsa", 39: "epma",
}


def ma(candles: np.ndarray, period: int = 30, matype: int = 0, source_type: str = "close",
       sequential: bool = False) -> Number:
    """Moving average chosen by ``matype`` with the reference's numbering: 0 sma, 1 ema,
    2 wma, 3 dema, 4 tema, 5 trima, 6 kama, 10 hma, 11 linearreg, 20 jma, 23 smma,
    24 vwma (candles only), 27 alma.  The reference's other types are not implemented
    (ValueError naming them); 7, 8 and 19 are invalid there too."""
    matype = int(matype)
    if matype == 11:
        from .statistics import linearreg

        return linearreg(candles, period=period, source_type=source_type, sequential=sequential)
    fn = _MA_TYPES.get(matype)
    if fn is None:
        if matype in _MA_NAMES:
            raise ValueError(f"matype {matype} ({_MA_NAMES[matype]}) is not implemented")
        raise ValueError("Invalid matype value.")
    if fn is vwma and np.ndim(candles) == 1:
        raise ValueError("vwma only works with normal candles.")
    return fn(candles, period=period, source_type=source_type, sequential=sequential)
