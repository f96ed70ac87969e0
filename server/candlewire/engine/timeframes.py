"""Timeframes and the vectorized aggregation of 1-minute candles into bars.

Row layout everywhere: ``[timestamp_ms, open, close, high, low, volume]``.
Bars are counted from the first candle passed in (spec "Data"): bar k covers rows
``k*m .. k*m + m - 1``; a trailing incomplete bucket is not a bar.
"""

from __future__ import annotations

import numpy as np

TIMESTAMP, OPEN, CLOSE, HIGH, LOW, VOLUME = range(6)

MINUTE_MS = 60_000

TIMEFRAMES: dict[str, int] = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "45m": 45,
    "1h": 60,
    "2h": 120,
    "3h": 180,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1D": 1440,
    "3D": 4320,
    "1W": 10080,
    "1M": 43200,  # 30 days, as in the reference
}


def timeframe_minutes(timeframe: str) -> int:
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}") from None


def aggregate(candles_1m: np.ndarray, minutes: int) -> np.ndarray:
    """(n, 6) one-minute rows -> (n // minutes, 6) bars: first timestamp and open, last
    close, max high, min low, summed volume. Reshape only, no Python loop."""
    candles_1m = np.asarray(candles_1m, dtype=np.float64)
    if minutes == 1:
        return candles_1m.copy()
    bars = len(candles_1m) // minutes
    blocks = candles_1m[: bars * minutes].reshape(bars, minutes, 6)
    out = np.empty((bars, 6), dtype=np.float64)
    out[:, TIMESTAMP] = blocks[:, 0, TIMESTAMP]
    out[:, OPEN] = blocks[:, 0, OPEN]
    out[:, CLOSE] = blocks[:, -1, CLOSE]
    out[:, HIGH] = blocks[:, :, HIGH].max(axis=1)
    out[:, LOW] = blocks[:, :, LOW].min(axis=1)
    out[:, VOLUME] = blocks[:, :, VOLUME].sum(axis=1)
    return out


def aggregate_one(candles_1m: np.ndarray) -> np.ndarray:
    """One bar from a run of one-minute rows (the forming candle of a bucket)."""
    return np.array(
        [
            candles_1m[0, TIMESTAMP],
            candles_1m[0, OPEN],
            candles_1m[-1, CLOSE],
            candles_1m[:, HIGH].max(),
            candles_1m[:, LOW].min(),
            candles_1m[:, VOLUME].sum(),
        ]
    )
