"""Volume indicators."""

from __future__ import annotations

from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import get_candle_source, output, same_length, slice_candles

Number = Union[float, np.ndarray]


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def obv(candles: np.ndarray, sequential: bool = False) -> Number:
    """On-balance volume (TA-Lib OBV on close)."""
    candles = slice_candles(candles, sequential)
    return output(talib.OBV(_f(candles[:, 2]), _f(candles[:, 5])), sequential)


def ad(candles: np.ndarray, sequential: bool = False) -> Number:
    """Chaikin accumulation / distribution line (TA-Lib AD)."""
    candles = slice_candles(candles, sequential)
    return output(talib.AD(_f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2]), _f(candles[:, 5])), sequential)


def adosc(candles: np.ndarray, fast_period: int = 3, slow_period: int = 10, sequential: bool = False) -> Number:
    """Chaikin A/D oscillator: EMA(AD, fast) - EMA(AD, slow), spec EMAs started at the
    first bar; AD = cumulative ((close - low) - (high - close)) / (high - low) * volume
    (0 on a bar with high == low).  No NaN prefix."""
    candles = slice_candles(candles, sequential)
    h, l, c, v = (_f(candles[:, i]) for i in (3, 4, 2, 5))
    rng = h - l
    with np.errstate(invalid="ignore", divide="ignore"):
        mult = np.where(rng != 0, ((c - l) - (h - c)) / rng, 0.0)
    ad_line = _f(np.cumsum(mult * v))
    return output(kn.ema_kernel(ad_line, int(fast_period)) - kn.ema_kernel(ad_line, int(slow_period)), sequential)


def vwap(candles: np.ndarray, source_type: str = "hlc3", anchor: str = "D", sequential: bool = False) -> Number:
    """Anchored VWAP: cumulative sum(source*volume) / cumulative sum(volume), restarting at
    each `anchor` period (numpy datetime64 unit of the candle open time: "D", "h", "W",
    "M", "Y" ...)."""
    candles = slice_candles(candles, sequential)
    x = get_candle_source(candles, source_type)
    groups = candles[:, 0].astype("datetime64[ms]").astype(f"datetime64[{anchor}]").astype(np.int64)
    vol = _f(candles[:, 5])
    with np.errstate(invalid="ignore", divide="ignore"):
        res = kn.segmented_cumsum_kernel(_f(vol * x), groups) / kn.segmented_cumsum_kernel(vol, groups)
    return output(res, sequential)


def cvi(candles: np.ndarray, period: int = 5, sequential: bool = False) -> Number:
    """Chaikin volatility: 100 * (E[i] - E[i-period]) / E[i-period] (0 when E[i-period] is
    0), E = EMA(high - low) started at the first bar (spec EMA); first value at `period`."""
    candles = slice_candles(candles, sequential)
    return output(kn.cvi_kernel(_f(candles[:, 3]), _f(candles[:, 4]), int(period)), sequential)


def efi(candles: np.ndarray, period: int = 13, source_type: str = "close", sequential: bool = False) -> Number:
    """Elder force index: EMA((x[i] - x[i-1]) * volume[i], period) (spec EMA recurrence,
    starting at the second bar), NaN before index `period` as the reference returns it."""
    candles = slice_candles(candles, sequential)
    x = get_candle_source(candles, source_type)
    force = np.diff(x) * candles[1:, 5]
    e = kn.ema_kernel(_f(force), int(period))
    e[: max(int(period) - 1, 0)] = np.nan
    return output(same_length(x, e), sequential)
