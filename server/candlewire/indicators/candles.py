"""Candle transforms."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .helpers import output_tuple, slice_candles

HA = namedtuple("HA", ["open", "close", "high", "low"])


def heikin_ashi_candles(candles: np.ndarray, sequential: bool = False) -> HA:
    """Heikin-Ashi candles with the reference's (non-recursive) definition:
    open[i] = (open[i-1] + close[i-1]) / 2 of the previous *raw* candle,
    close[i] = (o + c + h + l) / 4, high / low = max / min of the raw high / low and the
    HA open and close.  Bar 0 has no previous candle and is NaN."""
    candles = slice_candles(candles, sequential)
    o, c, h, l = (np.asarray(candles[:, i], dtype=np.float64) for i in (1, 2, 3, 4))
    n = len(o)
    ha_open = np.full(n, np.nan)
    ha_close = np.full(n, np.nan)
    ha_open[1:] = (o[:-1] + c[:-1]) / 2
    ha_close[1:] = (o[1:] + c[1:] + h[1:] + l[1:]) / 4
    ha_high = np.maximum(np.maximum(h, ha_open), ha_close)
    ha_low = np.minimum(np.minimum(l, ha_open), ha_close)
    return output_tuple(HA, (ha_open, ha_close, ha_high, ha_low), sequential)
