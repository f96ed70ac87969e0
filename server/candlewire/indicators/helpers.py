"""Shared plumbing for the indicators: candle sources, warm-up truncation, padding.

Row layout everywhere: ``[timestamp_ms, open, close, high, low, volume]`` (close BEFORE
high/low).  Non-sequential indicator calls recompute from scratch on the last
``warm_up_candles`` bars only (spec "Indicators"); the engine sets that number per run
with :func:`set_warm_up_candles` (default 240).
"""

from __future__ import annotations

import numpy as np

DEFAULT_WARM_UP_CANDLES = 240
_warm_up_candles = DEFAULT_WARM_UP_CANDLES

# column indices of the candle row layout
TIMESTAMP, OPEN, CLOSE, HIGH, LOW, VOLUME = 0, 1, 2, 3, 4, 5

SOURCE_TYPES = ("open", "close", "high", "low", "volume", "hl2", "hlc3", "ohlc4")


def set_warm_up_candles(n: int) -> None:
    """Set how many trailing bars a non-sequential indicator call sees (the run's
    ``warm_up_candles`` config value)."""
    global _warm_up_candles
    n = int(n)
    if n < 1:
        raise ValueError("warm_up_candles must be >= 1")
    _warm_up_candles = n


def get_warm_up_candles() -> int:
    return _warm_up_candles


def slice_candles(candles: np.ndarray, sequential: bool) -> np.ndarray:
    """Non-sequential calls only see the last ``warm_up_candles`` rows."""
    candles = np.asarray(candles, dtype=np.float64)
    if not sequential and candles.shape[0] > _warm_up_candles:
        candles = candles[-_warm_up_candles:]
    return candles


def get_candle_source(candles: np.ndarray, source_type: str = "close") -> np.ndarray:
    """The price series selected by ``source_type``; a 1-D array is its own source."""
    candles = np.asarray(candles, dtype=np.float64)
    if candles.ndim == 1:
        return candles
    if source_type == "close":
        return candles[:, CLOSE]
    if source_type == "high":
        return candles[:, HIGH]
    if source_type == "low":
        return candles[:, LOW]
    if source_type == "open":
        return candles[:, OPEN]
    if source_type == "volume":
        return candles[:, VOLUME]
    if source_type == "hl2":
        return (candles[:, HIGH] + candles[:, LOW]) / 2
    if source_type == "hlc3":
        return (candles[:, HIGH] + candles[:, LOW] + candles[:, CLOSE]) / 3
    if source_type == "ohlc4":
        return (candles[:, OPEN] + candles[:, HIGH] + candles[:, LOW] + candles[:, CLOSE]) / 4
    raise ValueError(f"unknown source_type {source_type!r}; expected one of {', '.join(SOURCE_TYPES)}")


def source(candles: np.ndarray, source_type: str, sequential: bool) -> np.ndarray:
    """slice_candles + get_candle_source in one step (works for 1-D input too)."""
    return get_candle_source(slice_candles(candles, sequential), source_type)


def same_length(bigger: np.ndarray, shorter: np.ndarray) -> np.ndarray:
    """Left-pad ``shorter`` with NaN to the length of ``bigger``."""
    shorter = np.asarray(shorter, dtype=np.float64)
    pad = len(bigger) - len(shorter)
    if pad <= 0:
        return shorter
    return np.concatenate((np.full(pad, np.nan), shorter))


def np_shift(arr: np.ndarray, num: int, fill_value: float = np.nan) -> np.ndarray:
    """Shift right by ``num`` (left when negative), filling the gap with ``fill_value``."""
    arr = np.asarray(arr, dtype=np.float64)
    result = np.empty_like(arr)
    if num > 0:
        result[:num] = fill_value
        result[num:] = arr[:-num]
    elif num < 0:
        result[num:] = fill_value
        result[:num] = arr[-num:]
    else:
        result[:] = arr
    return result


def first_valid(x: np.ndarray) -> int:
    """Index of the first non-NaN element (len(x) when there is none)."""
    mask = ~np.isnan(x)
    return int(np.argmax(mask)) if mask.any() else len(x)


def rolling_window(x: np.ndarray, period: int) -> np.ndarray:
    """(n - period + 1, period) read-only view of the windows ending at each index."""
    return np.lib.stride_tricks.sliding_window_view(x, period)


def rolling_sum(x: np.ndarray, period: int) -> np.ndarray:
    """Sum of each trailing window (NaN-padded to len(x)); exact per-window sums."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < period:
        return np.full(len(x), np.nan)
    return same_length(x, rolling_window(x, period).sum(axis=1))


def output(res, sequential: bool):
    """Full series when sequential, else the last value (as a float)."""
    if sequential:
        return res
    if len(res) == 0:
        return np.nan
    return float(res[-1])


def output_tuple(cls, arrays, sequential: bool):
    if sequential:
        return cls(*arrays)
    return cls(*(float(a[-1]) if len(a) else np.nan for a in arrays))
