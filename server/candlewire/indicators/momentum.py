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


def stoch(candles: np.ndarray, fastk_period: int = 14, slowk_period: int = 3, slowk_matype: int = 0,
          slowd_period: int = 3, slowd_matype: int = 0, sequential: bool = False) -> Stochastic:
    """Slow stochastic (TA-Lib STOCH)."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    kk, dd = talib.STOCH(h, l, c, fastk_period=fastk_period, slowk_period=slowk_period,
                         slowk_matype=slowk_matype, slowd_period=slowd_period, slowd_matype=slowd_matype)
    return output_tuple(Stochastic, (kk, dd), sequential)


def stochf(candles: np.ndarray, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0,
           sequential: bool = False) -> StochasticFast:
    """Fast stochastic (TA-Lib STOCHF)."""
    candles = slice_candles(candles, sequential)
    h, l, c = _hlc(candles)
    kk, dd = talib.STOCHF(h, l, c, fastk_period=fastk_period, fastd_period=fastd_period, fastd_matype=fastd_matype)
    return output_tuple(StochasticFast, (kk, dd), sequential)


def srsi(candles: np.ndarray, period: int = 14, period_stoch: int = 14, k: int = 3, d: int = 3,
         source_type: str = "close", sequential: bool = False) -> StochasticRSI:
    """Stochastic RSI: 100*(rsi - min(rsi, period_stoch)) / (max - min) (NaN when flat),
    %K = SMA(k) of it, %D = SMA(d) of %K (spec RSI and SMA)."""
    x = _f(source(candles, source_type, sequential))
    r = _kernels_rsi(x, period)
    st = np.full(len(r), np.nan)
    if len(r) >= period_stoch:
        win = rolling_window(r, period_stoch)
        valid = ~np.isnan(win).all(axis=1)
        lo = np.full(len(win), np.nan)
        hi = np.full(len(win), np.nan)
        lo[valid] = np.nanmin(win[valid], axis=1)
        hi[valid] = np.nanmax(win[valid], axis=1)
        rng = hi - lo
        cur = r[period_stoch - 1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            st[period_stoch - 1:] = np.where(rng != 0, 100 * (cur - lo) / rng, np.nan)
    k_line = k_sma(st, k)
    d_line = k_sma(k_line, d)
    return output_tuple(StochasticRSI, (k_line, d_line), sequential)


def _kernels_rsi(x, period):
    return kn.rsi_kernel(x, int(period))


def k_sma(x, period):
    return kn.sma_kernel(_f(x), int(period))


def stochrsi(candles: np.ndarray, period: int = 14, period_stoch: int = 14, k: int = 3, d: int = 3,
             source_type: str = "close", sequential: bool = False) -> StochasticRSI:
    """Alias of :func:`srsi`."""
    return srsi(candles, period=period, period_stoch=period_stoch, k=k, d=d, source_type=source_type,
                sequential=sequential)


def macd(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9,
         source_type: str = "close", sequential: bool = False) -> MACD:
    """MACD (TA-Lib MACD)."""
    x = _f(source(candles, source_type, sequential))
    m, s, h = talib.MACD(x, fastperiod=fast_period, slowperiod=slow_period, signalperiod=signal_period)
    return output_tuple(MACD, (m, s, h), sequential)


def cci(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Commodity channel index (TA-Lib CCI)."""
    candles = slice_candles(candles, sequential)
    return output(talib.CCI(*_hlc(candles), timeperiod=period), sequential)


def mfi(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Money flow index (TA-Lib MFI)."""
    candles = slice_candles(candles, sequential)
    return output(talib.MFI(*_hlc(candles), _f(candles[:, 5]), timeperiod=period), sequential)


def willr(candles: np.ndarray, period: int = 14, sequential: bool = False) -> Number:
    """Williams %R (TA-Lib WILLR)."""
    candles = slice_candles(candles, sequential)
    return output(talib.WILLR(*_hlc(candles), timeperiod=period), sequential)


def ultosc(candles: np.ndarray, timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28,
           sequential: bool = False) -> Number:
    """Ultimate oscillator (TA-Lib ULTOSC)."""
    candles = slice_candles(candles, sequential)
    return output(talib.ULTOSC(*_hlc(candles), timeperiod1=timeperiod1, timeperiod2=timeperiod2,
                               timeperiod3=timeperiod3), sequential)


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
    """1-period ROC of a triple-smoothed EMA (TA-Lib TRIX)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.TRIX(x, timeperiod=period), sequential)


def ppo(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, matype: int = 0,
        source_type: str = "close", sequential: bool = False) -> Number:
    """Percentage price oscillator (TA-Lib PPO)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.PPO(x, fastperiod=fast_period, slowperiod=slow_period, matype=matype), sequential)


def apo(candles: np.ndarray, fast_period: int = 12, slow_period: int = 26, matype: int = 0,
        source_type: str = "close", sequential: bool = False) -> Number:
    """Absolute price oscillator (TA-Lib APO)."""
    x = _f(source(candles, source_type, sequential))
    return output(talib.APO(x, fastperiod=fast_period, slowperiod=slow_period, matype=matype), sequential)


def ao(candles: np.ndarray, sequential: bool = False) -> AO:
    """Awesome oscillator: SMA(hl2, 5) - SMA(hl2, 34) (spec SMA); change = 1-bar diff."""
    x = _f(source(candles, "hl2", sequential))
    osc = kn.sma_kernel(x, 5) - kn.sma_kernel(x, 34)
    change = same_length(osc, np.diff(osc))
    return output_tuple(AO, (osc, change), sequential)


def tsi(candles: np.ndarray, long_period: int = 25, short_period: int = 13, source_type: str = "close",
        sequential: bool = False) -> Number:
    """True strength index: 100 * EMA(EMA(m, long), short) / EMA(EMA(|m|, long), short),
    m = 1-bar momentum, EMAs of TA-Lib (SMA-seeded)."""
    x = _f(source(candles, source_type, sequential))
    m = same_length(x, np.diff(x))
    if len(x) < long_period + short_period:
        return output(np.full(len(x), np.nan), sequential)
    num = talib.EMA(talib.EMA(m, timeperiod=long_period), timeperiod=short_period)
    den = talib.EMA(talib.EMA(np.abs(m), timeperiod=long_period), timeperiod=short_period)
    with np.errstate(invalid="ignore", divide="ignore"):
        return output(100 * num / den, sequential)


def fisher(candles: np.ndarray, period: int = 9, sequential: bool = False) -> FisherTransform:
    """Ehlers Fisher transform of hl2 over `period` bars; signal = previous fisher."""
    candles = slice_candles(candles, sequential)
    hl2 = _f((candles[:, 3] + candles[:, 4]) / 2)
    hi = talib.MAX(hl2, timeperiod=period)
    lo = talib.MIN(hl2, timeperiod=period)
    f, s = kn.fisher_kernel(hl2, _f(hi), _f(lo))
    return output_tuple(FisherTransform, (f, s), sequential)


def kst(candles: np.ndarray, sma_period1: int = 10, sma_period2: int = 10, sma_period3: int = 10,
        sma_period4: int = 15, roc_period1: int = 10, roc_period2: int = 15, roc_period3: int = 20,
        roc_period4: int = 30, signal_period: int = 9, source_type: str = "close",
        sequential: bool = False) -> KST:
    """Know Sure Thing: sum_i i * SMA(ROC(roc_i), sma_i); signal = SMA(line, signal_period)
    (TA-Lib ROC and SMA, as the reference)."""
    x = _f(source(candles, source_type, sequential))
    pairs = ((sma_period1, roc_period1), (sma_period2, roc_period2),
             (sma_period3, roc_period3), (sma_period4, roc_period4))
    line = np.zeros(len(x))
    for w, (sp, rp) in enumerate(pairs, start=1):
        line = line + w * talib.SMA(talib.ROC(x, timeperiod=rp), timeperiod=sp)
    signal = talib.SMA(line, timeperiod=signal_period) if not np.isnan(line).all() else line.copy()
    return output_tuple(KST, (line, signal), sequential)


def kdj(candles: np.ndarray, fastk_period: int = 9, slowk_period: int = 3, slowk_matype: int = 0,
        slowd_period: int = 3, slowd_matype: int = 0, sequential: bool = False) -> KDJ:
    """KDJ: K, D of the slow stochastic (TA-Lib STOCH) and J = 3K - 2D."""
    candles = slice_candles(candles, sequential)
    kk, dd = talib.STOCH(*_hlc(candles), fastk_period=fastk_period, slowk_period=slowk_period,
                         slowk_matype=slowk_matype, slowd_period=slowd_period, slowd_matype=slowd_matype)
    return output_tuple(KDJ, (kk, dd, 3 * kk - 2 * dd), sequential)
