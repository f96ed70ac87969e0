"""Momentum oscillators."""

from __future__ import annotations

from collections import namedtuple
from typing import Union

import numpy as np
import talib

from . import _kernels as kn
from .helpers import output, output_tuple, rolling_sum, rolling_window, same_length, slice_candles, source

Number = Union[float, np.ndarray]

MACD = namedtuple("MACD", ["macd", "signal", "hist"])
Stochastic = namedtuple("Stochastic", ["k", "d"])
StochasticFast = namedtuple("StochasticFast", ["k", "d"])
StochasticRSI = namedtuple("StochasticRSI", ["k", "d"])
AO = namedtuple("AO", ["osc", "change"])
FisherTransform = namedtuple("FisherTransform", ["fisher", "signal"])
KST = namedtuple("KST", ["line", "signal"])
KDJ = namedtuple("KDJ", ["k", "d", "j"])


def _f(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _hlc(candles):
    return _f(candles[:, 3]), _f(candles[:, 4]), _f(candles[:, 2])


def rsi(candles: np.ndarray, period: int = 14, source_type: str = "close", sequential: bool = False) -> Number:
    """Wilder RSI (spec recurrence)."""
    x = _f(source(candles, source_type, sequential))
    return output(kn.rsi_kernel(x, int(period)), sequential)


def _rolling_high_low(candles, period):
    """Highest high / lowest low of each full `period` window (NaN before period-1)."""
    h, l = _f(candles[:, 3]), _f(candles[:, 4])
    n = len(h)
    hh = np.full(n, np.nan)
    ll = np.full(n, np.nan)
    if period >= 1 and n >= period:
        hh[period - 1:] = rolling_window(h, period).max(axis=1)
        ll[period - 1:] = rolling_window(l, period).min(axis=1)
    return hh, ll


def stoch(candles: np.ndarray, fastk_period: int = 14, slowk_period: int = 3, slowk_matype: int = 0,
          slowd_period: int = 3, slowd_matype: int = 0, sequential: bool = False) -> Stochastic:
    """Slow stochastic as the reference computes it: raw %K = 100 (close - lowest low) /
    (highest high - lowest low) over `fastk_period` bars (NaN when the range is 0);
    %K = the NaN-aware SMA (mean of the non-NaN values of each window) of raw %K over
    `slowk_period`, %D the same of %K over `slowd_period`.  Both start at fastk_period-1.
    The reference ignores ``slowk_matype`` / ``slowd_matype`` (always SMA); so does this,
    except that 24 (VWMA) and 29 (VWAP) are rejected as there."""
    if slowk_matype in (24, 29) or slowd_matype in (24, 29):
        raise ValueError("VWMA (matype 24) and VWAP (matype 29) cannot be used in stochastic indicator.")
    candles = slice_candles(candles, sequential)
    hh, ll = _rolling_high_low(candles, int(fastk_period))
    close = _f(candles[:, 2])
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(hh > ll, 100.0 * (close - ll) / (hh - ll), np.nan)
    kk = kn.nan_sma_kernel(_f(raw), int(slowk_period))
    dd = kn.nan_sma_kernel(kk, int(slowd_period))
    return output_tuple(Stochastic, (kk, dd), sequential)


def stochf(candles: np.ndarray, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0,
           sequential: bool = False) -> StochasticFast:
    """Fast stochastic as the reference computes it: %K = 100 (close - lowest low) /
    (highest high - lowest low) over `fastk_period` bars (50 when the range is 0), from
    index fastk_period-1; %D = the NaN-aware SMA of %K over `fastd_period` (also from
    fastk_period-1).  ``fastd_matype`` is ignored (always SMA) as there, except that 24
    and 29 are rejected."""
    if fastd_matype in (24, 29):
        raise ValueError("VWMA (matype 24) and VWAP (matype 29) cannot be used in stochf indicator.")
    candles = slice_candles(candles, sequential)
    hh, ll = _rolling_high_low(candles, int(fastk_period))
    close = _f(candles[:, 2])
    with np.errstate(invalid="ignore", divide="ignore"):
        kk = np.where(hh > ll, 100.0 * (close - ll) / (hh - ll), 50.0)
    kk[np.isnan(hh)] = np.nan
    dd = kn.nan_sma_kernel(_f(kk), int(fastd_period))
    return output_tuple(StochasticFast, (kk, dd), sequential)


def srsi(candles: np.ndarray, period: int = 14, period_stoch: int = 14, k: int = 3, d: int = 3,
         source_type: str = "close", sequential: bool = False) -> StochasticRSI:
    """Stochastic RSI as the reference computes it (see ``_kernels.srsi_kernel``): RSI
    (100 when the average loss is 0), raw %K over the last `period_stoch` RSI values, %K =
    mean of the last `k` raw values (first at period + period_stoch + k - 2), %D = mean of
    the last `d` non-NaN %K values."""
    x = _f(source(candles, source_type, sequential))
    k_line, d_line = kn.srsi_kernel(x, int(period), int(period_stoch), int(k), int(d))
    return output_tuple(StochasticRSI, (k_line, d_line), sequential)


def stochrsi(candles: np.ndarray, period: int = 14, period_stoch: int = 14, k: int = 3, d: int = 3,
             source_type: str = "close", sequential: bool = False) -> StochasticRSI:
    """Alias of :func:`srsi`."""
    return srsi(candles, period=period, period_stoch=period_stoch, k=k, d=d, source_type=source_type,
                sequential=sequential)


def macd(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9,
         source_type: str = "close", sequential: bool = False) -> MACD:
    """MACD from spec EMAs (started at the first value, no NaN prefix): macd = EMA(fast) -
    EMA(slow), signal = EMA(macd, signal_period) started at macd[0] (= 0), hist = macd -
    signal."""
    x = _f(source(candles, source_type, sequential))
    if len(x) == 0:
        empty = np.full(0, np.nan)
        return output_tuple(MACD, (empty, empty, empty), sequential)
    m = kn.ema_kernel(x, int(fast_period)) - kn.ema_kernel(x, int(slow_period))
    m = np.where(np.isnan(m), 0.0, m)
    sig = kn.ema_kernel(_f(m), int(signal_period))
    return output_tuple(MACD, (m, sig, m - sig), sequential)


def cci(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Commodity channel index (TA-Lib CCI)."""
    candles = slice_candles(candles, sequential)
    return output(talib.CCI(*_hlc(candles), timeperiod=period), sequential)


def mfi(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Money flow index: typical price tp = (h + l + c) / 3, raw flow tp * volume counted
    as positive when tp rose from the previous bar and negative when it fell (the first
    bar counts as neither); MFI = 100 - 100 / (1 + sum(pos) / sum(neg)) over `period`
    bars (100 when sum(neg) is 0), from index period-1."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    tp = (h + l + c) / 3.0
    flow = tp * _f(candles[:, 5])
    pos = np.zeros(len(tp))
    neg = np.zeros(len(tp))
    pos[1:] = np.where(tp[1:] > tp[:-1], flow[1:], 0.0)
    neg[1:] = np.where(tp[1:] < tp[:-1], flow[1:], 0.0)
    sp, sn = rolling_sum(pos, period), rolling_sum(neg, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(sn != 0, sp / sn, np.inf)
        res = 100.0 - 100.0 / (1.0 + ratio)
    res[np.isnan(sp)] = np.nan
    return output(res, sequential)


def willr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Williams %R (TA-Lib WILLR)."""
    candles = slice_candles(candles, sequential)
    return output(talib.WILLR(*_hlc(candles), timeperiod=period), sequential)


def ultosc(candles: np.ndarray, timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28,
           sequential: bool = False) -> Number:
    """Ultimate oscillator: buying pressure bp = close - min(low, prev close) and range
    tr = max(high, prev close) - min(low, prev close) (bp[0] = 0, tr[0] = high - low);
    avg_p = sum(bp) / sum(tr) over p bars (NaN when sum(tr) is 0); value = 100 (4 avg1 +
    2 avg2 + avg3) / 7, first at the longest period - 1."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    n = len(c)
    bp = np.zeros(n)
    tr = np.empty(n)
    if n:
        tr[0] = h[0] - l[0]
    bp[1:] = c[1:] - np.minimum(l[1:], c[:-1])
    tr[1:] = np.maximum(h[1:], c[:-1]) - np.minimum(l[1:], c[:-1])

    def avg(p):
        sb, st = rolling_sum(bp, p), rolling_sum(tr, p)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(st != 0, sb / st, np.nan)

    return output(100.0 * (4.0 * avg(timeperiod1) + 2.0 * avg(timeperiod2) + avg(timeperiod3)) / 7.0, sequential)


def bop(candles: np.ndarray, sequential: bool = False) -> Number:
    """Balance of power (TA-Lib BOP)."""
    candles = slice_candles(candles, sequential)
    return output(talib.BOP(_f(candles[:, 1]), *_hlc(candles)), sequential)


def _src_talib(fn_name):
    fn = getattr(talib, fn_name.upper())

    def ind(candles: np.ndarray, period: int = 10, source_type: str = "close", sequential: bool = False) -> Number:
        x = _f(source(candles, source_type, sequential))
        return output(fn(x, timeperiod=period), sequential)

    ind.__name__ = ind.__qualname__ = fn_name
    return ind


mom = _src_talib("mom")
mom.__doc__ = "Momentum x[i] - x[i-period] (TA-Lib MOM)."
roc = _src_talib("roc")
roc.__doc__ = "Rate of change ((x/x[-p]) - 1) * 100 (TA-Lib ROC)."
rocp = _src_talib("rocp")
rocp.__doc__ = "Rate of change percentage (x - x[-p]) / x[-p] (TA-Lib ROCP)."
rocr = _src_talib("rocr")
rocr.__doc__ = "Rate of change ratio x / x[-p] (TA-Lib ROCR)."
rocr100 = _src_talib("rocr100")
rocr100.__doc__ = "Rate of change ratio * 100 (TA-Lib ROCR100)."


def cmo(candles: np.ndarray, period: int = 14, source_type: str = "close", sequential: bool = False) -> Number:
    """Chande momentum oscillator as Chande defined it and Jesse computes it (not TA-Lib's smoothed
    variant): 100 × (Σ gains − Σ losses) / (Σ gains + Σ losses) over the last `period` changes."""
    x = _f(source(candles, source_type, sequential))
    change = np.diff(x, prepend=np.nan)
    gains = rolling_sum(np.where(change > 0, change, 0.0), period)
    losses = rolling_sum(np.where(change < 0, -change, 0.0), period)
    total = gains + losses
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(total > 0, 100.0 * (gains - losses) / total, 0.0)
    # The first change needs a previous value, so the first full window ends at index `period`.
    values[: min(period, len(values))] = np.nan
    return output(values, sequential)


def trix(candles: np.ndarray, period: int = 18, source_type: str = "close", sequential: bool = False) -> Number:
    """TRIX as the reference computes it: 10000 x the 1-bar change of a triple spec EMA
    (each started at its first value) of ln(source); NaN only on the first bar."""
    x = _f(source(candles, source_type, sequential))
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = _f(np.log(x))
    e3 = kn.ema_kernel(kn.ema_kernel(kn.ema_kernel(lx, int(period)), int(period)), int(period))
    res = np.full(len(x), np.nan)
    res[1:] = (e3[1:] - e3[:-1]) * 10000.0
    return output(res, sequential)


def _fast_slow(candles, fast_period, slow_period, matype, source_type, sequential):
    """The fast and slow :func:`~candlewire.indicators.ma` of the source (reference MA
    type numbers; 24 VWMA reads the candles' volume)."""
    from .moving_averages import ma

    candles = slice_candles(candles, sequential)
    if matype in (24, 29):
        fast = ma(candles, period=fast_period, matype=matype, source_type=source_type, sequential=True)
        slow = ma(candles, period=slow_period, matype=matype, source_type=source_type, sequential=True)
    else:
        x = _f(source(candles, source_type, True))
        fast = ma(x, period=fast_period, matype=matype, sequential=True)
        slow = ma(x, period=slow_period, matype=matype, sequential=True)
    return np.asarray(fast, dtype=np.float64), np.asarray(slow, dtype=np.float64)


def ppo(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, matype: int = 0,
        source_type: str = "close", sequential: bool = False) -> Number:
    """Percentage price oscillator 100 (fast MA - slow MA) / slow MA, MAs from :func:`ma`
    (reference type numbers: 0 = spec SMA, 1 = spec EMA, ...)."""
    fast, slow = _fast_slow(candles, fast_period, slow_period, matype, source_type, sequential)
    with np.errstate(invalid="ignore", divide="ignore"):
        return output(100 * (fast - slow) / slow, sequential)


def apo(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, matype: int = 0,
        source_type: str = "close", sequential: bool = False) -> Number:
    """Absolute price oscillator fast MA - slow MA, MAs from :func:`ma` (reference type
    numbers: 0 = spec SMA, 1 = spec EMA, ...)."""
    fast, slow = _fast_slow(candles, fast_period, slow_period, matype, source_type, sequential)
    return output(fast - slow, sequential)


def ao(candles: np.ndarray, sequential: bool = False) -> AO:
    """Awesome oscillator: SMA(hl2, 5) - SMA(hl2, 34) (spec SMA); change = 1-bar diff."""
    x = _f(source(candles, "hl2", sequential))
    osc = kn.sma_kernel(x, 5) - kn.sma_kernel(x, 34)
    change = same_length(osc, np.diff(osc))
    return output_tuple(AO, (osc, change), sequential)


def tsi(candles: np.ndarray, long_period: int = 25, short_period: int = 13, source_type: str = "close",
        sequential: bool = False) -> Number:
    """True strength index: 100 * EMA(EMA(m, long), short) / EMA(EMA(|m|, long), short),
    m = 1-bar momentum with m[0] = 0, all spec EMAs (started at the first value); 0 where
    the ratio is not finite.  No NaN prefix."""
    x = _f(source(candles, source_type, sequential))
    m = np.zeros(len(x))
    m[1:] = x[1:] - x[:-1]
    num = kn.ema_kernel(kn.ema_kernel(m, int(long_period)), int(short_period))
    den = kn.ema_kernel(kn.ema_kernel(_f(np.abs(m)), int(long_period)), int(short_period))
    with np.errstate(invalid="ignore", divide="ignore"):
        res = 100.0 * num / den
    res[~np.isfinite(res)] = 0.0
    return output(res, sequential)


def fisher(candles: np.ndarray, period: int = 9, sequential: bool = False) -> FisherTransform:
    """Ehlers Fisher transform of hl2 over `period` bars as the reference runs it (see
    ``_kernels.fisher_kernel``): 0.0 before index `period`, signal = previous fisher."""
    candles = slice_candles(candles, sequential)
    hl2 = _f((candles[:, 3] + candles[:, 4]) / 2)
    n, p = len(hl2), int(period)
    hi = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    if 1 <= p <= n:
        hi[p - 1:] = rolling_window(hl2, p).max(axis=1)
        lo[p - 1:] = rolling_window(hl2, p).min(axis=1)
    f, s = kn.fisher_kernel(hl2, hi, lo, p)
    return output_tuple(FisherTransform, (f, s), sequential)


def kst(candles: np.ndarray, sma_period1: int = 10, sma_period2: int = 10, sma_period3: int = 10,
        sma_period4: int = 15, roc_period1: int = 10, roc_period2: int = 15, roc_period3: int = 20,
        roc_period4: int = 30, signal_period: int = 9, source_type: str = "close",
        sequential: bool = False) -> KST:
    """Know Sure Thing: sum_i i * SMA(ROC(roc_i), sma_i); signal = SMA(line, signal_period).
    The SMAs are NaN-aware as the reference's (each window averages its non-NaN values), so
    the line starts as soon as every ROC has a value (index max(roc periods))."""
    x = _f(source(candles, source_type, sequential))
    pairs = ((sma_period1, roc_period1), (sma_period2, roc_period2),
             (sma_period3, roc_period3), (sma_period4, roc_period4))
    line = np.zeros(len(x))
    for w, (sp, rp) in enumerate(pairs, start=1):
        line = line + w * kn.nan_sma_kernel(_roc(x, int(rp)), int(sp))
    signal = kn.nan_sma_kernel(_f(line), int(signal_period))
    return output_tuple(KST, (line, signal), sequential)


def _roc(x, period):
    """((x / x[-period]) - 1) * 100, NaN for the first `period` bars."""
    res = np.full(len(x), np.nan)
    if 0 < period < len(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            res[period:] = (x[period:] / x[:-period] - 1.0) * 100.0
    return res


def kdj(candles: np.ndarray, fastk_period: int = 9, slowk_period: int = 3, slowk_matype: int = 0,
        slowd_period: int = 3, slowd_matype: int = 0, sequential: bool = False) -> KDJ:
    """KDJ: raw = 100 (close - lowest low) / (highest high - lowest low) where the first
    fastk_period-1 bars use the window since bar 0; K = ma(raw, slowk_period,
    slowk_matype), D = ma(K, slowd_period, slowd_matype) (MA type numbers of
    :func:`~candlewire.indicators.ma`; 0 = the NaN-aware SMA), J = 3K - 2D."""
    if slowk_matype in (24, 29) or slowd_matype in (24, 29):
        raise ValueError("VWMA (matype 24) and VWAP (matype 29) cannot be used in kdj indicator.")
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    p = int(fastk_period)
    hh = np.maximum.accumulate(h) if len(h) else h.copy()
    ll = np.minimum.accumulate(l) if len(l) else l.copy()
    if 1 <= p <= len(h):
        hh[p - 1:] = rolling_window(h, p).max(axis=1)
        ll[p - 1:] = rolling_window(l, p).min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = 100.0 * (c - ll) / (hh - ll)
    kk = _smooth(_f(raw), slowk_period, slowk_matype)
    dd = _smooth(kk, slowd_period, slowd_matype)
    return output_tuple(KDJ, (kk, dd, 3 * kk - 2 * dd), sequential)


def _smooth(x, period, matype):
    if int(matype) == 0:
        return kn.nan_sma_kernel(x, int(period))
    from .moving_averages import ma

    return _f(ma(x, period=period, matype=matype, sequential=True))
