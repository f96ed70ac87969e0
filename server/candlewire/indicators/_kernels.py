"""Numba kernels for the sequential recurrences numpy cannot vectorize.

The SMA, EMA, ATR, RSI and Bollinger kernels implement the exact recurrences of the
spec ("Indicators"): they differ from TA-Lib in the last bits and must not be replaced
by TA-Lib or by vectorized equivalents.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _first_valid(x):
    for i in range(x.shape[0]):
        if not math.isnan(x[i]):
            return i
    return x.shape[0]


@njit(cache=True, error_model="numpy")
def sma_kernel(x, period):
    """Running sum: first `period` values summed left to right, then subtract the oldest
    and add the newest; value = sum / period.  Leading NaNs are skipped."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    if period < 1 or n - start < period:
        return out
    s = 0.0
    for i in range(start, start + period):
        s += x[i]
    out[start + period - 1] = s / period
    for i in range(start + period, n):
        s = s - x[i - period]
        s = s + x[i]
        out[i] = s / period
    return out


@njit(cache=True, error_model="numpy")
def ema_kernel(x, period):
    """out[0] = x[0]; out[i] = a*x[i] + (1-a)*out[i-1], a = 2/(period+1).  No SMA seed
    and no NaN prefix (other than the input's own leading NaNs)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    if start >= n:
        return out
    alpha = 2.0 / (period + 1)
    out[start] = x[start]
    for i in range(start + 1, n):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


@njit(cache=True, error_model="numpy")
def true_range_kernel(high, low, close):
    """TR[0] = high - low; TR[i] = max(high-low, |high-prev close|, |low-prev close|)."""
    n = high.shape[0]
    tr = np.empty(n)
    if n == 0:
        return tr
    tr[0] = high[0] - low[0]
    for i in range(1, n):
        hl = high[i] - low[i]
        hc = abs(high[i] - close[i - 1])
        lc = abs(low[i] - close[i - 1])
        m = hl
        if hc > m:
            m = hc
        if lc > m:
            m = lc
        tr[i] = m
    return tr


@njit(cache=True, error_model="numpy")
def atr_kernel(high, low, close, period):
    """seed = (sum TR[0..p-1] in order) / p at index p-1; then a += (TR - a) / p."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n < period:
        return out
    tr = true_range_kernel(high, low, close)
    s = 0.0
    for i in range(period):
        s += tr[i]
    a = s / period
    out[period - 1] = a
    for i in range(period, n):
        a = a + (tr[i] - a) / period
        out[i] = a
    return out


@njit(cache=True, error_model="numpy")
def rsi_kernel(x, period):
    """Wilder RSI: seeds = sums of the first p gains / losses divided by p; then
    avg = (avg*(p-1) + v) / p; RSI = 100 - 100/(1 + up/down); first value at index p."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n <= period:
        return out
    up = 0.0
    down = 0.0
    for i in range(1, period + 1):
        d = x[i] - x[i - 1]
        if d > 0:
            up += d
        elif d < 0:
            down -= d
    up = up / period
    down = down / period
    out[period] = 100.0 - 100.0 / (1.0 + up / down)
    for i in range(period + 1, n):
        d = x[i] - x[i - 1]
        g = d if d > 0 else 0.0
        l = -d if d < 0 else 0.0
        up = (up * (period - 1) + g) / period
        down = (down * (period - 1) + l) / period
        out[i] = 100.0 - 100.0 / (1.0 + up / down)
    return out


@njit(cache=True, error_model="numpy")
def bbands_kernel(x, period, devup, devdn):
    """Running sums s and s^2 (subtract oldest, add newest); mean = s/p,
    variance = s2/p - mean^2 (clamped at 0 against rounding), std = sqrt(variance)."""
    n = x.shape[0]
    upper = np.full(n, np.nan)
    middle = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    start = _first_valid(x)
    if period < 1 or n - start < period:
        return upper, middle, lower
    s = 0.0
    s2 = 0.0
    for i in range(start, start + period):
        s += x[i]
        s2 += x[i] * x[i]
    for i in range(start + period - 1, n):
        if i >= start + period:
            old = x[i - period]
            new = x[i]
            s = s - old
            s = s + new
            s2 = s2 - old * old
            s2 = s2 + new * new
        mean = s / period
        var = s2 / period - mean * mean
        if var < 0.0:
            var = 0.0
        sd = math.sqrt(var)
        middle[i] = mean
        upper[i] = mean + devup * sd
        lower[i] = mean - devdn * sd
    return upper, middle, lower


@njit(cache=True, error_model="numpy")
def smma_kernel(x, period):
    """Smoothed MA (Wilder RMA): first value = mean of the first `period` values, then
    a*x + (1-a)*prev with a = 1/period."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    if period < 1 or n - start < period:
        return out
    s = 0.0
    for i in range(start, start + period):
        s += x[i]
    v = s / period
    out[start + period - 1] = v
    alpha = 1.0 / period
    for i in range(start + period, n):
        v = alpha * x[i] + (1.0 - alpha) * v
        out[i] = v
    return out


@njit(cache=True, error_model="numpy")
def jma_kernel(x, period, phase, power):
    """Jurik moving average (the widely published approximation)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    if phase < -100:
        phase_ratio = 0.5
    elif phase > 100:
        phase_ratio = 2.5
    else:
        phase_ratio = phase / 100.0 + 1.5
    beta = 0.45 * (period - 1) / (0.45 * (period - 1) + 2)
    alpha = beta ** power
    e0 = x[0]
    e1 = 0.0
    e2 = 0.0
    j = x[0]
    out[0] = j
    for i in range(1, n):
        e0 = (1 - alpha) * x[i] + alpha * e0
        e1 = (x[i] - e0) * (1 - beta) + beta * e1
        e2 = (e0 + phase_ratio * e1 - j) * (1 - alpha) ** 2 + alpha ** 2 * e2
        j = e2 + j
        out[i] = j
    return out


@njit(cache=True, error_model="numpy")
def frama_kernel(high, low, close, n, fc, sc):
    """Fractal adaptive MA (Ehlers) with the FC/SC speed bounds; `n` must be even."""
    length = close.shape[0]
    out = np.full(length, np.nan)
    if length < n:
        return out
    w = math.log(2.0 / (sc + 1))
    half = n // 2
    d_prev = 0.0
    s = 0.0
    for i in range(n):
        s += close[i]
    out[n - 1] = s / n
    for i in range(n, length):
        h1 = high[i - n]
        l1 = low[i - n]
        for k in range(i - n, i - half):
            if high[k] > h1:
                h1 = high[k]
            if low[k] < l1:
                l1 = low[k]
        h2 = high[i - half]
        l2 = low[i - half]
        for k in range(i - half, i):
            if high[k] > h2:
                h2 = high[k]
            if low[k] < l2:
                l2 = low[k]
        n1 = (h1 - l1) / half
        n2 = (h2 - l2) / half
        n3 = ((h1 if h1 > h2 else h2) - (l1 if l1 < l2 else l2)) / n
        if n1 > 0 and n2 > 0 and n3 > 0:
            d = (math.log(n1 + n2) - math.log(n3)) / math.log(2.0)
        else:
            d = d_prev
        d_prev = d
        a0 = math.exp(w * (d - 1))
        if a0 < 0.1:
            a0 = 0.1
        if a0 > 1:
            a0 = 1.0
        old_n = (2 - a0) / a0
        nn = ((sc - fc) * ((old_n - 1) / (sc - 1))) + fc
        alpha = 2 / (nn + 1)
        if alpha < 2 / (sc + 1):
            alpha = 2 / (sc + 1)
        elif alpha > 1:
            alpha = 1.0
        out[i] = alpha * close[i] + (1 - alpha) * out[i - 1]
    return out


@njit(cache=True, error_model="numpy")
def supertrend_kernel(close, upper_basic, lower_basic, period):
    """Final bands ratchet (upper only falls while close stays under it, lower only
    rises while close stays above it); the trend flips when close crosses the band."""
    n = close.shape[0]
    trend = np.full(n, np.nan)
    changed = np.zeros(n)
    if n < period or period < 1:
        return trend, changed
    ub = upper_basic.copy()
    lb = lower_basic.copy()
    for i in range(period, n):
        if close[i - 1] <= ub[i - 1]:
            ub[i] = min(upper_basic[i], ub[i - 1])
        if close[i - 1] >= lb[i - 1]:
            lb[i] = max(lower_basic[i], lb[i - 1])
    p = period - 1
    trend[p] = ub[p] if close[p] <= ub[p] else lb[p]
    for i in range(period, n):
        if trend[i - 1] == ub[i - 1]:
            if close[i] <= ub[i]:
                trend[i] = ub[i]
            else:
                trend[i] = lb[i]
                changed[i] = 1.0
        elif trend[i - 1] == lb[i - 1]:
            if close[i] >= lb[i]:
                trend[i] = lb[i]
            else:
                trend[i] = ub[i]
                changed[i] = 1.0
        else:
            trend[i] = 0.0
    return trend, changed


@njit(cache=True, error_model="numpy")
def fisher_kernel(hl2, highest, lowest):
    """Ehlers Fisher transform on the median price; signal = previous fisher value."""
    n = hl2.shape[0]
    fisher = np.full(n, np.nan)
    signal = np.full(n, np.nan)
    val = 0.0
    fish = 0.0
    for i in range(n):
        if math.isnan(highest[i]):
            continue
        rng = highest[i] - lowest[i]
        if rng == 0:
            rng = 0.001
        val = 0.66 * ((hl2[i] - lowest[i]) / rng - 0.5) + 0.67 * val
        if val > 0.99:
            val = 0.999
        elif val < -0.99:
            val = -0.999
        signal[i] = fish
        fish = 0.5 * math.log((1 + val) / (1 - val)) + 0.5 * fish
        fisher[i] = fish
    return fisher, signal


@njit(cache=True, error_model="numpy")
def segmented_cumsum_kernel(values, groups):
    """Cumulative sum restarting whenever the group id changes."""
    n = values.shape[0]
    out = np.empty(n)
    s = 0.0
    for i in range(n):
        if i > 0 and groups[i] != groups[i - 1]:
            s = 0.0
        s += values[i]
        out[i] = s
    return out


@njit(cache=True, error_model="numpy")
def zlema_kernel(x, period):
    """Zero-lag EMA: lag = (period-1)//2, d[i] = x[i] + (x[i] - x[i-lag]); value = d[lag]
    at index lag, then a*d + (1-a)*prev, a = 2/(period+1); all NaN when n <= period."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    lag = (period - 1) // 2
    alpha = 2.0 / (period + 1)
    v = x[lag] + (x[lag] - x[0])
    out[lag] = v
    for i in range(lag + 1, n):
        d = x[i] + (x[i] - x[i - lag])
        v = alpha * d + (1.0 - alpha) * v
        out[i] = v
    return out


@njit(cache=True, error_model="numpy")
def cvi_kernel(high, low, period):
    """Chaikin volatility (Tulip convention): E = EMA(high - low) started at the first bar
    with v += (x - v) * 2/(period+1); out[i] = 100 (E[i] - E[i-period]) / E[i-period]
    from index 2*period - 1."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    per = 2.0 / (period + 1)
    e = np.empty(n)
    v = high[0] - low[0]
    e[0] = v
    for i in range(1, n):
        v = ((high[i] - low[i]) - v) * per + v
        e[i] = v
    for i in range(2 * period - 1, n):
        old = e[i - period]
        out[i] = 100.0 * (e[i] - old) / old
    return out
