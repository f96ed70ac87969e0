"""Trend / directional indicators."""

from __future__ import annotations

from collections import namedtuple
from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import output, output_tuple, rolling_sum, slice_candles, source

Number = Union[float, np.ndarray]

DI = namedtuple("DI", ["plus", "minus"])
DM = namedtuple("DM", ["plus", "minus"])
AROON = namedtuple("AROON", ["down", "up"])
SuperTrend = namedtuple("SuperTrend", ["trend", "changed"])
IchimokuCloud = namedtuple("IchimokuCloud", ["conversion_line", "base_line", "span_a", "span_b"])
VORTEX = namedtuple("VORTEX", ["plus", "minus"])


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _hlc(candles):
    return _f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])


def adx(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Average directional index (TA-Lib ADX)."""
    candles = slice_candles(candles, sequential)
    return output(talib.ADX(*_hlc(candles), timeperiod=period), sequential)


def adxr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """ADX rating (TA-Lib ADXR)."""
    candles = slice_candles(candles, sequential)
    return output(talib.ADXR(*_hlc(candles), timeperiod=period), sequential)


def dx(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Directional movement index (TA-Lib DX)."""
    candles = slice_candles(candles, sequential)
    return output(talib.DX(*_hlc(candles), timeperiod=period), sequential)


def di(candles: np.ndarray, period: int = 14, sequential: bool = False) -> DI:
    """+DI / -DI (TA-Lib PLUS_DI / MINUS_DI)."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    return output_tuple(DI, (talib.PLUS_DI(h, l, c, timeperiod=period),
                             talib.MINUS_DI(h, l, c, timeperiod=period)), sequential)


def dm(candles: np.ndarray, period: int = 14, sequential: bool = False) -> DM:
    """+DM / -DM, Wilder-smoothed (TA-Lib PLUS_DM / MINUS_DM)."""
    candles = slice_candles(candles, sequential)
    h, l = _f(candles[:, 3]), _f(candles[:, 4])
    return output_tuple(DM, (talib.PLUS_DM(h, l, timeperiod=period),
                             talib.MINUS_DM(h, l, timeperiod=period)), sequential)


def aroon(candles: np.ndarray, period: int = 14, sequential: bool = False) -> AROON:
    """Aroon down / up (TA-Lib AROON)."""
    candles = slice_candles(candles, sequential)
    down, up = talib.AROON(_f(candles[:, 3]), _f(candles[:, 4]), timeperiod=period)
    return output_tuple(AROON, (down, up), sequential)


def aroonosc(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Aroon oscillator = up - down (TA-Lib AROONOSC)."""
    candles = slice_candles(candles, sequential)
    return output(talib.AROONOSC(_f(candles[:, 3]), _f(candles[:, 4]), timeperiod=period), sequential)


def sar(candles: np.ndarray, acceleration: float = 0.02, maximum: float = 0.2, sequential: bool = False) -> Number:
    """Parabolic SAR (TA-Lib SAR)."""
    candles = slice_candles(candles, sequential)
    return output(talib.SAR(_f(candles[:, 3]), _f(candles[:, 4]), acceleration=acceleration, maximum=maximum),
                  sequential)


def supertrend(candles: np.ndarray, period: int = 10, factor: float = 3, sequential: bool = False) -> SuperTrend:
    """SuperTrend on hl2 +/- factor * ATR(period) (the spec ATR, i.e. ``atr``).

    Bands ratchet: the upper band may only fall while the previous close is at or below
    it, the lower band may only rise while the previous close is at or above it.  The
    first trend value (index period-1) is the upper band when close <= it, else the lower
    band; afterwards the trend stays on its band until close crosses it.  ``changed`` is
    1.0 on the bar the trend flips, else 0.0; ``trend`` is NaN before index period-1.
    """
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    atr_ = kn.atr_kernel(h, l, c, int(period))
    hl2 = (h + l) / 2
    tr, ch = kn.supertrend_kernel(c, _f(hl2 + factor * atr_), _f(hl2 - factor * atr_), int(period))
    return output_tuple(SuperTrend, (tr, ch), sequential)


def vortex(candles: np.ndarray, period: int = 14, sequential: bool = False) -> VORTEX:
    """Vortex: VI+ = sum|high - prev low| / sum TR, VI- = sum|low - prev high| / sum TR
    over `period` bars (TR as TA-Lib TRANGE)."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    n = len(c)
    vm_plus = np.full(n, np.nan)
    vm_minus = np.full(n, np.nan)
    vm_plus[1:] = np.abs(h[1:] - l[:-1])
    vm_minus[1:] = np.abs(l[1:] - h[:-1])
    tr_sum = rolling_sum(talib.TRANGE(h, l, c), period)
    return output_tuple(VORTEX, (rolling_sum(vm_plus, period) / tr_sum,
                                 rolling_sum(vm_minus, period) / tr_sum), sequential)


def dpo(candles: np.ndarray, period: int = 5, source_type: str = "close", sequential: bool = False) -> Number:
    """Detrended price oscillator: x[i - (period//2 + 1)] - SMA(x, period)[i] (spec SMA)."""
    x = _f(source(candles, source_type, sequential))
    back = int(period) // 2 + 1
    shifted = np.full(len(x), np.nan)
    if len(x) > back:
        shifted[back:] = x[:-back]
    return output(shifted - kn.sma_kernel(x, int(period)), sequential)


def ichimoku_cloud(candles: np.ndarray, conversion_line_period: int = 9, base_line_period: int = 26,
                   lagging_line_period: int = 52, displacement: int = 26) -> IchimokuCloud:
    """Ichimoku cloud at the last bar (needs at least 80 candles, else all NaN).

    conversion / base line = midpoint of the highest high and lowest low of the last 9 /
    26 bars; span A = (conversion + base) / 2 and span B = the 52-bar midpoint, both as
    computed `displacement` bars ago (i.e. the cloud plotted under the current bar).
    """
    candles = np.asarray(candles, dtype=np.float64)
    if candles.shape[0] < 80:
        return IchimokuCloud(np.nan, np.nan, np.nan, np.nan)
    candles = candles[-80:]

    def mid(c, p):
        w = c[-p:]
        return (w[:, 3].max() + w[:, 4].min()) / 2

    conversion = mid(candles, conversion_line_period)
    base = mid(candles, base_line_period)
    earlier = candles[:-displacement]
    span_a = (mid(earlier, conversion_line_period) + mid(earlier, base_line_period)) / 2
    span_b = mid(earlier, lagging_line_period)
    return IchimokuCloud(float(conversion), float(base), float(span_a), float(span_b))


def ht_trendline(candles: np.ndarray, source_type: str = "close", sequential: bool = False) -> Number:
    """Hilbert transform instantaneous trendline (TA-Lib HT_TRENDLINE)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.HT_TRENDLINE(x), sequential)


def midpoint(candles: np.ndarray, period: int = 14, source_type: str = "close", sequential: bool = False) -> Number:
    """(max + min) / 2 of the source over `period` (TA-Lib MIDPOINT)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.MIDPOINT(x, timeperiod=period), sequential)


def midprice(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """(highest high + lowest low) / 2 over `period` (TA-Lib MIDPRICE)."""
    candles = slice_candles(candles, sequential)
    return output(talib.MIDPRICE(_f(candles[:, 3]), _f(candles[:, 4]), timeperiod=period), sequential)
