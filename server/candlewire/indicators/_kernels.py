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
def atr_kernel(high, low, close, period, weighted_update=False):
    """seed = (sum TR[0..p-1] in order) / p at index p-1; then a += (TR - a) / p, or with
    `weighted_update` a = (a (p-1) + TR) / p as the reference's SuperTrend writes it (the
    two differ in the last bits)."""
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
        if weighted_update:
            a = (a * (period - 1) + tr[i]) / period
        else:
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
    """Smoothed MA as the reference computes it: the *adjusted* exponentially weighted
    mean with alpha = 1/period, i.e. out[i] = sum_j w^(i-j) x[j] / sum_j w^(i-j) over all
    bars so far (w = 1 - alpha).  No seed and no NaN prefix; kept as two running sums
    (numerator and weight total) so long series cannot overflow."""
    n = x.shape[0]
    out = np.empty(n)
    w = 1.0 - 1.0 / period
    num = 0.0
    den = 0.0
    for i in range(n):
        num = x[i] + w * num
        den = 1.0 + w * den
        out[i] = num / den
    return out


@njit(cache=True, error_model="numpy")
def jma_kernel(x, period, phase, power):
    """Jurik moving average (the widely published approximation) started as the
    reference starts it: out[0] = x[0] and the three filter states e0, e1, e2 at 0."""
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
    alpha = 1.0
    for _ in range(power):
        alpha = alpha * beta
    keep = (1 - alpha) * (1 - alpha)
    alpha2 = alpha * alpha
    e0 = 0.0
    e1 = 0.0
    e2 = 0.0
    j = x[0]
    out[0] = j
    for i in range(1, n):
        e0 = (1 - alpha) * x[i] + alpha * e0
        e1 = (x[i] - e0) * (1 - beta) + beta * e1
        e2 = (e0 + phase_ratio * e1 - j) * keep + alpha2 * e2
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
    """Final bands ratchet (from index `period` the upper band only falls while the
    previous close is at or under it, the lower band only rises while the previous close
    is at or above it, else they reset to the basic band).  trend[period-1] is the upper
    band when close <= it, else the lower band; afterwards a bar whose previous trend sat
    on the upper band stays there until close rises above it, any other bar stays on the
    lower band until close falls below it.  trend and changed are 0.0 before period-1."""
    n = close.shape[0]
    trend = np.zeros(n)
    changed = np.zeros(n)
    if n < period or period < 1:
        return trend, changed
    ub = upper_basic.copy()
    lb = lower_basic.copy()
    p = period - 1
    trend[p] = ub[p] if close[p] <= ub[p] else lb[p]
    for i in range(period, n):
        if close[i - 1] <= ub[i - 1]:
            ub[i] = min(upper_basic[i], ub[i - 1])
        if close[i - 1] >= lb[i - 1]:
            lb[i] = max(lower_basic[i], lb[i - 1])
        if trend[i - 1] == ub[i - 1]:
            if close[i] <= ub[i]:
                trend[i] = ub[i]
            else:
                trend[i] = lb[i]
                changed[i] = 1.0
        elif close[i] >= lb[i]:
            trend[i] = lb[i]
        else:
            trend[i] = ub[i]
            changed[i] = 1.0
    return trend, changed


@njit(cache=True, error_model="numpy")
def fisher_kernel(hl2, highest, lowest, period):
    """Ehlers Fisher transform on the median price as the reference runs it: from index
    `period` on, v = 0.66 ((hl2 - lowest) / (highest - lowest) - 0.5) + 0.67 v_prev (v = 0
    on a flat window), clamped to [-0.999, 0.999]; fisher = 0.5 ln((1+v)/(1-v)) +
    0.5 fisher_prev; signal = the previous fisher.  Both are 0.0 before `period`."""
    n = hl2.shape[0]
    fisher = np.zeros(n)
    signal = np.zeros(n)
    v = 0.0
    for i in range(period, n):
        rng = highest[i] - lowest[i]
        if rng == 0.0:
            v = 0.0
        else:
            v = 0.33 * 2.0 * ((hl2[i] - lowest[i]) / rng - 0.5) + 0.67 * v
        if v > 0.999:
            v = 0.999
        elif v < -0.999:
            v = -0.999
        fisher[i] = 0.5 * math.log((1.0 + v) / (1.0 - v)) + 0.5 * fisher[i - 1]
        signal[i] = fisher[i - 1]
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
    """Chaikin volatility: E = EMA(high - low) started at the first bar (spec EMA);
    out[i] = 100 (E[i] - E[i-period]) / E[i-period] from index `period` (0 when
    E[i-period] is 0); NaN before."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    alpha = 2.0 / (period + 1)
    e = np.empty(n)
    e[0] = high[0] - low[0]
    for i in range(1, n):
        e[i] = alpha * (high[i] - low[i]) + (1 - alpha) * e[i - 1]
    for i in range(period, n):
        old = e[i - period]
        if old != 0.0:
            out[i] = (e[i] - old) / old * 100.0
        else:
            out[i] = 0.0
    return out


@njit(cache=True, error_model="numpy")
def nan_sma_kernel(x, period):
    """Mean of the non-NaN values of each full `period` window (running sum and count:
    the oldest value leaves, the newest enters); NaN where a window holds no value or
    before index period-1.  This is how the reference averages a series with gaps
    (e.g. an indicator's warm-up NaNs): partial windows average what they have."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n < period:
        return out
    s = 0.0
    cnt = 0
    for i in range(period):
        if not math.isnan(x[i]):
            s += x[i]
            cnt += 1
    if cnt > 0:
        out[period - 1] = s / cnt
    for i in range(period, n):
        old = x[i - period]
        if not math.isnan(old):
            s -= old
            cnt -= 1
        if not math.isnan(x[i]):
            s += x[i]
            cnt += 1
        if cnt > 0:
            out[i] = s / cnt
    return out


@njit(cache=True, error_model="numpy")
def kama_kernel(x, period, fast_length, slow_length):
    """Kaufman adaptive MA: out = x for the first `period` bars, then
    out += sc (x - out) with sc = (er (fast_a - slow_a) + slow_a)^2, a = 2/(len+1),
    er = |x[i] - x[i-period]| / (running sum of the last `period` |1-bar changes|)
    (0 when that sum is 0)."""
    n = x.shape[0]
    out = x.copy()
    if n <= period:
        return out
    fast_a = 2.0 / (fast_length + 1.0)
    slow_a = 2.0 / (slow_length + 1.0)
    diff_a = fast_a - slow_a
    vol = 0.0
    for i in range(1, period):
        vol += abs(x[i] - x[i - 1])
    for i in range(period, n):
        vol += abs(x[i] - x[i - 1])
        if i > period:
            vol -= abs(x[i - period] - x[i - period - 1])
        change = abs(x[i] - x[i - period])
        er = change / vol if vol != 0.0 else 0.0
        sc = er * diff_a + slow_a
        sc = sc * sc
        out[i] = out[i - 1] + sc * (x[i] - out[i - 1])
    return out


@njit(cache=True, error_model="numpy")
def srsi_kernel(x, period, period_stoch, k_period, d_period):
    """Stochastic RSI.  RSI: Wilder averages seeded with the mean gain / loss of the first
    `period` changes (100 when the average loss is 0), first value at index `period`.
    raw %K = 100 (rsi - min) / (max - min) over the last `period_stoch` RSI values (NaN
    when flat).  %K = mean of the last `k_period` raw values once all of them exist and
    none is NaN (raw itself when k_period is 1).  %D = mean of the last `d_period` non-NaN
    %K values (NaN %K bars are skipped, not reset)."""
    n = x.shape[0]
    k_out = np.full(n, np.nan)
    d_out = np.full(n, np.nan)
    if n <= period:
        return k_out, d_out
    rsi = np.full(n, np.nan)
    up = 0.0
    down = 0.0
    for i in range(1, period + 1):
        ch = x[i] - x[i - 1]
        if ch > 0:
            up += ch
        else:
            down += -ch
    up /= period
    down /= period
    rsi[period] = 100.0 if down == 0.0 else 100.0 - 100.0 / (1.0 + up / down)
    for i in range(period + 1, n):
        ch = x[i] - x[i - 1]
        g = ch if ch > 0 else 0.0
        l = 0.0 if ch > 0 else -ch
        up = (up * (period - 1.0) + g) / period
        down = (down * (period - 1.0) + l) / period
        rsi[i] = 100.0 if down == 0.0 else 100.0 - 100.0 / (1.0 + up / down)
    first_raw = period + period_stoch - 1
    raw = np.full(n, np.nan)
    for i in range(first_raw, n):
        lo = rsi[i]
        hi = rsi[i]
        for j in range(i - period_stoch + 1, i + 1):
            if rsi[j] < lo:
                lo = rsi[j]
            if rsi[j] > hi:
                hi = rsi[j]
        if hi != lo:
            raw[i] = 100.0 * (rsi[i] - lo) / (hi - lo)
    for i in range(first_raw, n):
        if k_period > 1:
            if i - k_period + 1 < first_raw:
                continue
            s = 0.0
            ok = True
            for j in range(i - k_period + 1, i + 1):
                if math.isnan(raw[j]):
                    ok = False
                    break
                s += raw[j]
            if ok:
                k_out[i] = s / k_period
        else:
            k_out[i] = raw[i]
    if d_period > 0:
        buf = np.empty(d_period)
        cnt = 0
        for i in range(n):
            if not math.isnan(k_out[i]):
                buf[cnt % d_period] = k_out[i]
                cnt += 1
                if cnt >= d_period:
                    s = 0.0
                    for j in range(d_period):
                        s += buf[(cnt + j) % d_period]
                    d_out[i] = s / d_period
    return k_out, d_out


@njit(cache=True, error_model="numpy")
def wilder_sum_kernel(x, period):
    """Wilder's running sum over the whole series: s[0] = x[0], s = s - s/period + x."""
    n = x.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    s = x[0]
    out[0] = s
    for i in range(1, n):
        s = s - s / period + x[i]
        out[i] = s
    return out


@njit(cache=True, error_model="numpy")
def dm_kernel(raw, period):
    """Smoothed directional movement: the plain sum of raw[1..period] at index `period`,
    then s = s - s/period + raw; NaN before."""
    n = raw.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    s = 0.0
    for i in range(1, period + 1):
        s += raw[i]
    out[period] = s
    for i in range(period + 1, n):
        s = s - s / period + raw[i]
        out[i] = s
    return out


@njit(cache=True, error_model="numpy")
def di_kernel(tr, plus_dm, minus_dm, period):
    """+DI / -DI: the sums of TR, +DM, -DM over bars 1..period give the first value at
    index `period`; afterwards each smoothed total becomes (prev (period-1) + new) / period
    (the reference's recurrence, applied to the sum seed as is).  DI = 100 dm / tr
    (0 when tr <= 0)."""
    n = tr.shape[0]
    plus = np.full(n, np.nan)
    minus = np.full(n, np.nan)
    if n < 2 or n < period + 1:
        return plus, minus
    st = 0.0
    sp = 0.0
    sm = 0.0
    for i in range(1, period + 1):
        st += tr[i]
        sp += plus_dm[i]
        sm += minus_dm[i]
    for i in range(period, n):
        if i > period:
            st = (st * (period - 1) + tr[i]) / period
            sp = (sp * (period - 1) + plus_dm[i]) / period
            sm = (sm * (period - 1) + minus_dm[i]) / period
        if st > 0.0:
            plus[i] = 100.0 * sp / st
            minus[i] = 100.0 * sm / st
        else:
            plus[i] = 0.0
            minus[i] = 0.0
    return plus, minus


@njit(cache=True, error_model="numpy")
def adx_kernel(tr, plus_dm, minus_dm, period):
    """ADX: Wilder sums of TR, +DM, -DM (plain sums over bars 1..period, then
    s - s/period + new); DX = 100 |+DI - -DI| / (+DI + -DI) (0 when undefined) from
    index `period`; the first ADX, at index 2*period, is the mean of the DX values of
    bars period..2*period-1, then adx = (adx (period-1) + dx) / period."""
    n = tr.shape[0]
    out = np.full(n, np.nan)
    if n <= 2 * period:
        return out
    st = 0.0
    sp = 0.0
    sm = 0.0
    seed = 0.0
    a = 0.0
    for i in range(1, n):
        if i <= period:
            st += tr[i]
            sp += plus_dm[i]
            sm += minus_dm[i]
        else:
            st = st - st / period + tr[i]
            sp = sp - sp / period + plus_dm[i]
            sm = sm - sm / period + minus_dm[i]
        if i < period:
            continue
        dx = 0.0
        if st != 0.0:
            dip = 100.0 * sp / st
            dim = 100.0 * sm / st
            tot = dip + dim
            if tot != 0.0:
                dx = 100.0 * abs(dip - dim) / tot
        if i < 2 * period:
            seed += dx
        elif i == 2 * period:
            a = seed / period
            out[i] = a
        else:
            a = (a * (period - 1) + dx) / period
            out[i] = a
    return out


@njit(cache=True, error_model="numpy")
def rma_wrapped_seed_kernel(x, period):
    """Wilder RMA (alpha = 1/period) whose first value is alpha x[0] + (1 - alpha) x[-1]
    (the reference seeds it with the series' *last* value), then
    r = alpha x + (1 - alpha) r."""
    n = x.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    a = 1.0 / period
    out[0] = a * x[0] + (1.0 - a) * x[n - 1]
    for i in range(1, n):
        out[i] = a * x[i] + (1.0 - a) * out[i - 1]
    return out


@njit(cache=True, error_model="numpy")
def sar_kernel(high, low, acceleration, maximum):
    """Parabolic SAR from the first bar: uptrend when high[1] > high[0]; sar[0] = low[0]
    (uptrend) or high[0], extreme point = high[0] / low[0].  Each bar: sar = prev +
    af (ep - prev), capped by the previous two lows (highs in a downtrend); a close
    beyond it reverses to the extreme point with af reset; a new extreme raises af by
    `acceleration` up to `maximum`."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < 2:
        return out
    up = high[1] > high[0]
    out[0] = low[0] if up else high[0]
    ep = high[0] if up else low[0]
    af = acceleration
    for i in range(1, n):
        prev = out[i - 1]
        if up:
            s = prev + af * (ep - prev)
            s = min(s, low[i - 1])
            if i >= 2:
                s = min(s, low[i - 2])
            if low[i] < s:
                s = ep
                up = False
                af = acceleration
                ep = low[i]
            elif high[i] > ep:
                ep = high[i]
                af = min(af + acceleration, maximum)
        else:
            s = prev - af * (prev - ep)
            s = max(s, high[i - 1])
            if i >= 2:
                s = max(s, high[i - 2])
            if high[i] > s:
                s = ep
                up = True
                af = acceleration
                ep = high[i]
            elif low[i] < ep:
                ep = low[i]
                af = min(af + acceleration, maximum)
        out[i] = s
    return out


@njit(cache=True, error_model="numpy")
def linear_recurrence_kernel(b, w):
    """out[0] = b[0]; out[i] = w * out[i-1] + b[i]."""
    n = b.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    v = b[0]
    out[0] = v
    for i in range(1, n):
        v = w * v + b[i]
        out[i] = v
    return out


@njit(cache=True, error_model="numpy")
def wilder_average_kernel(x, period):
    """SMA-seeded Wilder average: mean of x[0..period-1] at index period-1, then
    a = x/period + (1 - 1/period) a; NaN before."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period < 1 or n < period:
        return out
    s = 0.0
    for i in range(period):
        s += x[i]
    v = s / period
    out[period - 1] = v
    a = 1.0 / period
    for i in range(period, n):
        v = a * x[i] + (1.0 - a) * v
        out[i] = v
    return out
