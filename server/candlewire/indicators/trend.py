"""Trend / directional indicators."""

from __future__ import annotations

from collections import namedtuple
from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import output, output_tuple, rolling_sum, rolling_window, slice_candles, source

Number = Union[float, np.ndarray]

DI = namedtuple("DI", ["plus", "minus"])
DM = namedtuple("DM", ["plus", "minus"])
AROON = namedtuple("AROON", ["down", "up"])
SuperTrend = namedtuple("SuperTrend", ["trend", "changed"])
IchimokuCloud = namedtuple("IchimokuCloud", ["conversion_line", "base_line", "span_a", "span_b"])
VORTEX = namedtuple("VORTEX", ["plus", "minus"])
DX = namedtuple("DX", ["adx", "plusDI", "minusDI"])


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _hlc(candles):
    return _f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])


def _tr_dm(candles):
    """True range (TR[0] = high - low) and the raw directional movements (+DM when the
    high rose more than the low fell and by more than 0, -DM the mirror; 0 on bar 0)."""
    h, l, c = _hlc(candles)
    n = len(h)
    tr = np.empty(n)
    plus = np.zeros(n)
    minus = np.zeros(n)
    if n:
        tr[0] = h[0] - l[0]
    if n > 1:
        tr[1:] = np.maximum(np.maximum(h[1:] - l[1:], np.abs(h[1:] - c[:-1])), np.abs(l[1:] - c[:-1]))
        up = h[1:] - h[:-1]
        down = l[:-1] - l[1:]
        plus[1:] = np.where((up > down) & (up > 0), up, 0.0)
        minus[1:] = np.where((down > up) & (down > 0), down, 0.0)
    return tr, plus, minus


def adx(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Average directional index as the reference computes it (see
    ``_kernels.adx_kernel``): first value at index 2*period."""
    if np.ndim(candles) < 2:
        raise ValueError("adx indicator requires a 2D array of candles")
    candles = slice_candles(candles, sequential)
    return output(kn.adx_kernel(*_tr_dm(candles), int(period)), sequential)


def adxr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """ADX rating as the reference computes it: Wilder running sums (s[0] = x[0], then
    s - s/period + x) of TR, +DM, -DM over the whole series, DX from them (0 when
    undefined), ADX = plain mean of the last `period` DX values (from index period-1),
    ADXR = (ADX + ADX `period` bars ago) / 2, first at index 2*period-1."""
    candles = slice_candles(candles, sequential)
    tr, plus, minus = _tr_dm(candles)
    p = int(period)
    n = len(tr)
    res = np.full(n, np.nan)
    if n < 2 * p or p < 1:
        return output(res, sequential)
    st, sp, sm = (kn.wilder_sum_kernel(_f(a), p) for a in (tr, plus, minus))
    with np.errstate(invalid="ignore", divide="ignore"):
        dip = np.where(st != 0, sp / st * 100.0, 0.0)
        dim = np.where(st != 0, sm / st * 100.0, 0.0)
        tot = dip + dim
        dx_ = np.where((st != 0) & (tot != 0), np.abs(dip - dim) / tot * 100.0, 0.0)
    mean_dx = np.full(n, np.nan)
    mean_dx[p - 1:] = rolling_window(dx_, p).sum(axis=1) / p
    res[p:] = (mean_dx[p:] + mean_dx[:-p]) / 2.0
    return output(res, sequential)


def dx(candles: np.ndarray, di_length: int = 14, adx_smoothing: int = 14, sequential: bool = False) -> DX:
    """Directional movement index as the reference computes it, returning
    ``DX(adx, plusDI, minusDI)``: TR, +DM, -DM smoothed with a Wilder RMA of
    `di_length` whose first value is seeded with the series' last value
    (``_kernels.rma_wrapped_seed_kernel``); DI = 100 rma(dm) / rma(tr) (0 when rma(tr) is
    0); adx = 100 RMA(|+DI - -DI| / (+DI + -DI), adx_smoothing) with the same seeding
    (the ratio is |+DI - -DI| itself when the sum is 0).  No NaN prefix."""
    candles = slice_candles(candles, sequential)
    tr, plus, minus = _tr_dm(candles)
    if len(tr) == 0:
        empty = np.full(0, np.nan)
        return output_tuple(DX, (empty, empty, empty), sequential)
    rt, rp, rm = (kn.rma_wrapped_seed_kernel(_f(a), int(di_length)) for a in (tr, plus, minus))
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = np.where(rt != 0, 100.0 * rp / rt, 0.0)
        minus_di = np.where(rt != 0, 100.0 * rm / rt, 0.0)
        tot = plus_di + minus_di
        diff = np.abs(plus_di - minus_di)
        ratio = np.where(tot == 0, diff, diff / tot)
    a = 1.0 / int(adx_smoothing)
    sm = _f(ratio)
    adx_ = np.empty(len(sm))
    adx_[0] = 100.0 * (a * sm[0] + (1.0 - a) * sm[-1])
    adx_[1:] = 100.0 * a * sm[1:]
    adx_ = kn.linear_recurrence_kernel(adx_, 1.0 - a)
    return output_tuple(DX, (adx_, plus_di, minus_di), sequential)


def di(candles: np.ndarray, period: int = 14, sequential: bool = False) -> DI:
    """+DI / -DI as the reference computes them (see ``_kernels.di_kernel``): first value
    at index `period`."""
    candles = slice_candles(candles, sequential)
    tr, plus, minus = _tr_dm(candles)
    return output_tuple(DI, kn.di_kernel(tr, plus, minus, int(period)), sequential)


def dm(candles: np.ndarray, period: int = 14, sequential: bool = False) -> DM:
    """+DM / -DM, Wilder-smoothed: the plain sum of bars 1..period at index `period`, then
    s - s/period + dm (``_kernels.dm_kernel``)."""
    candles = slice_candles(candles, sequential)
    _, plus, minus = _tr_dm(candles)
    return output_tuple(DM, (kn.dm_kernel(plus, int(period)), kn.dm_kernel(minus, int(period))), sequential)


def aroon(candles: np.ndarray, period: int = 14, sequential: bool = False) -> AROON:
    """Aroon down / up over windows of period + 1 bars: up = 100 * (position of the highest
    high in the window, 0 = oldest) / period, down the same for the lowest low; the
    earliest bar wins a tie (TA-Lib takes the latest).  First value at index `period`."""
    candles = slice_candles(candles, sequential)
    h, l = _f(candles[:, 3]), _f(candles[:, 4])
    p = int(period)
    up = np.full(len(h), np.nan)
    down = np.full(len(h), np.nan)
    if p >= 1 and len(h) >= p + 1:
        up[p:] = 100 * (rolling_window(h, p + 1).argmax(axis=1) / p)
        down[p:] = 100 * (rolling_window(l, p + 1).argmin(axis=1) / p)
    return output_tuple(AROON, (down, up), sequential)


def aroonosc(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Aroon oscillator as the reference computes it, over windows of `period` bars (not
    period + 1 as TA-Lib's): 100 (index of the highest high - index of the lowest low) /
    period within the window (the earliest bar wins a tie); first value at period-1."""
    candles = slice_candles(candles, sequential)
    h, l = _f(candles[:, 3]), _f(candles[:, 4])
    p = int(period)
    res = np.full(len(h), np.nan)
    if 1 <= p <= len(h):
        ih = rolling_window(h, p).argmax(axis=1)
        il = rolling_window(l, p).argmin(axis=1)
        res[p - 1:] = 100.0 * (ih - il) / p
    return output(res, sequential)


def sar(candles: np.ndarray, acceleration: float = 0.02, maximum: float = 0.2, sequential: bool = False) -> Number:
    """Parabolic SAR as the reference runs it from the first bar (see
    ``_kernels.sar_kernel``); no NaN prefix (all NaN below 2 bars)."""
    candles = slice_candles(candles, sequential)
    return output(kn.sar_kernel(_f(candles[:, 3]), _f(candles[:, 4]), float(acceleration), float(maximum)),
                  sequential)


def supertrend(candles: np.ndarray, period: int = 10, factor: float = 3, sequential: bool = False) -> SuperTrend:
    """SuperTrend on hl2 +/- factor * ATR(period): the spec ATR's seed with the recurrence
    written a = (a (period-1) + TR) / period as the reference's SuperTrend has it
    (``_kernels.atr_kernel`` with ``weighted_update``; equal to ``atr`` up to the last bits), taken as 0
    where it is still NaN.

    Bands ratchet: the upper band may only fall while the previous close is at or below
    it, the lower band may only rise while the previous close is at or above it.  The
    first trend value (index period-1) is the upper band when close <= it, else the lower
    band; afterwards the trend stays on its band until close crosses it.  ``changed`` is
    1.0 on the bar the trend flips, else 0.0; both are 0.0 before index period-1 (as the
    reference returns them).
    """
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    atr_ = np.nan_to_num(kn.atr_kernel(h, l, c, int(period), True), nan=0.0)
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
    """Detrended price oscillator: x[i - (period//2 + 1)] - SMA(x, period)[i] (spec SMA),
    NaN before index period + period//2 as the reference returns it."""
    x = _f(source(candles, source_type, sequential))
    p = int(period)
    back = p // 2 + 1
    shifted = np.full(len(x), np.nan)
    if len(x) > back:
        shifted[back:] = x[:-back]
    res = shifted - kn.sma_kernel(x, p)
    res[: p + p // 2] = np.nan
    return output(res, sequential)


def ichimoku_cloud(candles: np.ndarray, conversion_line_period: int = 9, base_line_period: int = 26,
                   lagging_line_period: int = 52, displacement: int = 26) -> IchimokuCloud:
    """Ichimoku cloud at the last bar (needs at least 80 candles, else all NaN; only the
    last 80 are used).

    conversion / base line = midpoint of the highest high and lowest low of the last 9 /
    26 bars; span A = (conversion + base) / 2 and span B = the 52-bar midpoint, both as of
    the bar `displacement - 1` bars back (the reference drops the last displacement-1
    candles for the spans).
    """
    candles = np.asarray(candles, dtype=np.float64)
    if candles.shape[0] < 80:
        return IchimokuCloud(np.nan, np.nan, np.nan, np.nan)
    candles = candles[-80:]

    def mid(c, p):
        if len(c) < p:
            return np.nan
        w = c[len(c) - p:]
        return (w[:, 3].max() + w[:, 4].min()) / 2

    conversion = mid(candles, conversion_line_period)
    base = mid(candles, base_line_period)
    earlier = candles[:len(candles) - (int(displacement) - 1)]
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
