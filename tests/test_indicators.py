"""Indicators checked against independent computations on seeded random candles.

Candle rows are [timestamp_ms, open, close, high, low, volume].  The five spec
recurrences (SMA, EMA, ATR, RSI, Bollinger) are compared bit-for-bit (==) with plain
loops written from the spec text; the rest against plain loops / pandas (isclose) or,
where the indicator is defined as TA-Lib's output, against TA-Lib.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib

from candlewire import indicators as ta
from candlewire.indicators import helpers

N = 500
RTOL = 1e-9


def make_candles(n=N, seed=7, step_ms=3_600_000):
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    open_ = np.r_[close[0] + rng.normal(0, 0.3), close[:-1] + rng.normal(0, 0.2, n - 1)]
    high = np.maximum(open_, close) + rng.random(n) * 1.5
    low = np.minimum(open_, close) - rng.random(n) * 1.5
    volume = rng.random(n) * 1000 + 1
    ts = 1_704_067_200_000 + np.arange(n, dtype=np.float64) * step_ms
    return np.column_stack([ts, open_, close, high, low, volume])


@pytest.fixture(scope="module")
def candles():
    c = make_candles()
    assert (c[:, 3] >= np.maximum(c[:, 1], c[:, 2])).all() and (c[:, 4] <= np.minimum(c[:, 1], c[:, 2])).all()
    return c


@pytest.fixture(autouse=True)
def _default_warm_up():
    helpers.set_warm_up_candles(240)
    yield
    helpers.set_warm_up_candles(240)


def O(c): return c[:, 1]
def C(c): return c[:, 2]
def H(c): return c[:, 3]
def L(c): return c[:, 4]
def V(c): return c[:, 5]


def close_enough(actual, expected, rtol=RTOL, atol=1e-9):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    m = ~np.isnan(expected)
    np.testing.assert_allclose(actual[m], expected[m], rtol=rtol, atol=atol)


def exactly(actual, expected):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    m = ~np.isnan(expected)
    assert (actual[m] == expected[m]).all(), np.max(np.abs(actual[m] - expected[m]))


# --------------------------------------------------------------------------------------
# plain-loop references written from the spec text / the indicator definitions
# --------------------------------------------------------------------------------------

def ref_sma(x, p):
    x = list(x)
    out = [math.nan] * len(x)
    start = next((i for i, v in enumerate(x) if not math.isnan(v)), len(x))
    if len(x) - start < p:
        return np.array(out)
    s = 0.0
    for i in range(start, start + p):
        s += x[i]
    out[start + p - 1] = s / p
    for i in range(start + p, len(x)):
        s -= x[i - p]
        s += x[i]
        out[i] = s / p
    return np.array(out)


def ref_ema(x, p):
    a = 2 / (p + 1)
    out = [math.nan] * len(x)
    start = next((i for i, v in enumerate(x) if not math.isnan(v)), len(x))
    prev = None
    for i in range(start, len(x)):
        prev = x[i] if prev is None else a * x[i] + (1 - a) * prev
        out[i] = prev
    return np.array(out)


def ref_tr(c):
    h, l, cl = H(c), L(c), C(c)
    tr = [h[0] - l[0]]
    for i in range(1, len(c)):
        tr.append(max(h[i] - l[i], abs(h[i] - cl[i - 1]), abs(l[i] - cl[i - 1])))
    return tr


def ref_atr(c, p):
    tr = ref_tr(c)
    out = [math.nan] * len(c)
    s = 0.0
    for i in range(p):
        s += tr[i]
    a = s / p
    out[p - 1] = a
    for i in range(p, len(c)):
        a = a + (tr[i] - a) / p
        out[i] = a
    return np.array(out)


def ref_rsi(x, p):
    out = [math.nan] * len(x)
    gains = [max(x[i] - x[i - 1], 0.0) for i in range(1, len(x))]
    losses = [max(x[i - 1] - x[i], 0.0) for i in range(1, len(x))]
    up = sum(gains[:p]) / p
    down = sum(losses[:p]) / p
    out[p] = 100 - 100 / (1 + up / down)
    for i in range(p + 1, len(x)):
        up = (up * (p - 1) + gains[i - 1]) / p
        down = (down * (p - 1) + losses[i - 1]) / p
        out[i] = 100 - 100 / (1 + up / down)
    return np.array(out)


def ref_bbands(x, p, devup, devdn):
    n = len(x)
    up, mid, lo = ([math.nan] * n for _ in range(3))
    s = s2 = 0.0
    for i in range(p):
        s += x[i]
        s2 += x[i] * x[i]
    for i in range(p - 1, n):
        if i >= p:
            s -= x[i - p]
            s += x[i]
            s2 -= x[i - p] * x[i - p]
            s2 += x[i] * x[i]
        mean = s / p
        sd = math.sqrt(max(s2 / p - mean * mean, 0.0))
        mid[i], up[i], lo[i] = mean, mean + devup * sd, mean - devdn * sd
    return np.array(up), np.array(mid), np.array(lo)


def ref_wma(x, p):
    w = np.arange(1, p + 1, dtype=float)
    out = np.full(len(x), np.nan)
    for i in range(p - 1, len(x)):
        out[i] = np.dot(x[i - p + 1:i + 1], w) / w.sum()
    return out


def ref_talib_ema(x, p):
    """SMA-seeded EMA (TA-Lib convention) starting at the first valid value."""
    a = 2 / (p + 1)
    out = np.full(len(x), np.nan)
    start = next((i for i, v in enumerate(x) if not math.isnan(v)), len(x))
    if len(x) - start < p:
        return out
    prev = float(np.mean(x[start:start + p]))
    out[start + p - 1] = prev
    for i in range(start + p, len(x)):
        prev = a * x[i] + (1 - a) * prev
        out[i] = prev
    return out


# --------------------------------------------------------------------------------------
# the five spec recurrences, to the bit
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("period", [1, 5, 14, 50])
@pytest.mark.parametrize("source_type", ["close", "hlc3", "volume"])
def test_sma_exact(candles, period, source_type):
    x = helpers.get_candle_source(candles, source_type)
    exactly(ta.sma(candles, period, source_type=source_type, sequential=True), ref_sma(x, period))


@pytest.mark.parametrize("period", [1, 5, 14, 50])
@pytest.mark.parametrize("source_type", ["close", "hl2", "ohlc4"])
def test_ema_exact(candles, period, source_type):
    x = helpers.get_candle_source(candles, source_type)
    res = ta.ema(candles, period, source_type=source_type, sequential=True)
    exactly(res, ref_ema(x, period))
    assert res[0] == x[0] and not np.isnan(res).any()  # no SMA seed, no NaN prefix


@pytest.mark.parametrize("period", [1, 7, 14, 30])
def test_atr_exact(candles, period):
    res = ta.atr(candles, period, sequential=True)
    exactly(res, ref_atr(candles, period))
    assert np.isnan(res[: period - 1]).all() and not np.isnan(res[period - 1])


@pytest.mark.parametrize("period", [2, 14, 30])
@pytest.mark.parametrize("source_type", ["close", "open", "hlc3"])
def test_rsi_exact(candles, period, source_type):
    x = helpers.get_candle_source(candles, source_type)
    res = ta.rsi(candles, period, source_type=source_type, sequential=True)
    exactly(res, ref_rsi(x, period))
    assert np.isnan(res[:period]).all() and not np.isnan(res[period])


@pytest.mark.parametrize("period,devup,devdn", [(20, 2, 2), (10, 1.5, 2.5), (5, 1, 1)])
def test_bollinger_exact(candles, period, devup, devdn):
    x = C(candles)
    res = ta.bollinger_bands(candles, period, devup, devdn, sequential=True)
    assert isinstance(res, ta.BollingerBands)
    for got, want in zip(res, ref_bbands(x, period, devup, devdn)):
        exactly(got, want)
    width = ta.bollinger_bands_width(candles, period, mult=devup, sequential=True)
    up, mid, lo = ref_bbands(x, period, devup, devup)
    exactly(width, (up - lo) / mid)


def test_spec_recurrences_differ_from_talib_only_in_last_bits(candles):
    """Sanity: same quantity as TA-Lib where TA-Lib agrees on the definition."""
    x = C(candles)
    close_enough(ta.sma(candles, 20, sequential=True), talib.SMA(x, 20))
    close_enough(ta.rsi(candles, 14, sequential=True)[14:], talib.RSI(x, 14)[14:])
    up, mid, lo = talib.BBANDS(x, 20, 2, 2)
    res = ta.bollinger_bands(candles, sequential=True)
    close_enough(res.middleband, mid)
    close_enough(res.upperband, up, rtol=1e-7)


# --------------------------------------------------------------------------------------
# indicators defined as TA-Lib's output
# --------------------------------------------------------------------------------------

TALIB_CASES = [
    ("wma", dict(period=30), lambda c: talib.WMA(C(c), 30)),
    ("trima", dict(period=30), lambda c: talib.TRIMA(C(c), 30)),
    ("kama", dict(period=14), lambda c: talib.KAMA(C(c), 14)),
    ("t3", dict(period=5, vfactor=0), lambda c: talib.T3(C(c), 5, 0)),
    ("stoch", {}, lambda c: talib.STOCH(H(c), L(c), C(c), 14, 3, 0, 3, 0)),
    ("stochf", {}, lambda c: talib.STOCHF(H(c), L(c), C(c), 5, 3, 0)),
    ("macd", {}, lambda c: talib.MACD(C(c), 12, 26, 9)),
    ("cci", {}, lambda c: talib.CCI(H(c), L(c), C(c), 14)),
    ("mfi", {}, lambda c: talib.MFI(H(c), L(c), C(c), V(c), 14)),
    ("roc", {}, lambda c: talib.ROC(C(c), 10)),
    ("rocp", {}, lambda c: talib.ROCP(C(c), 10)),
    ("rocr", {}, lambda c: talib.ROCR(C(c), 10)),
    ("rocr100", {}, lambda c: talib.ROCR100(C(c), 10)),
    ("mom", {}, lambda c: talib.MOM(C(c), 10)),
    ("willr", {}, lambda c: talib.WILLR(H(c), L(c), C(c), 14)),
    ("ppo", {}, lambda c: talib.PPO(C(c), 12, 26, 0)),
    ("apo", {}, lambda c: talib.APO(C(c), 12, 26, 0)),
    ("ultosc", {}, lambda c: talib.ULTOSC(H(c), L(c), C(c), 7, 14, 28)),
    ("trix", {}, lambda c: talib.TRIX(C(c), 18)),
    ("bop", {}, lambda c: talib.BOP(O(c), H(c), L(c), C(c))),
    ("adx", {}, lambda c: talib.ADX(H(c), L(c), C(c), 14)),
    ("adxr", {}, lambda c: talib.ADXR(H(c), L(c), C(c), 14)),
    ("dx", {}, lambda c: talib.DX(H(c), L(c), C(c), 14)),
    ("di", {}, lambda c: (talib.PLUS_DI(H(c), L(c), C(c), 14), talib.MINUS_DI(H(c), L(c), C(c), 14))),
    ("dm", {}, lambda c: (talib.PLUS_DM(H(c), L(c), 14), talib.MINUS_DM(H(c), L(c), 14))),
    ("aroon", {}, lambda c: talib.AROON(H(c), L(c), 14)),
    ("aroonosc", {}, lambda c: talib.AROONOSC(H(c), L(c), 14)),
    ("sar", {}, lambda c: talib.SAR(H(c), L(c), 0.02, 0.2)),
    ("ht_trendline", {}, lambda c: talib.HT_TRENDLINE(C(c))),
    ("midpoint", {}, lambda c: talib.MIDPOINT(C(c), 14)),
    ("midprice", {}, lambda c: talib.MIDPRICE(H(c), L(c), 14)),
    ("natr", {}, lambda c: talib.NATR(H(c), L(c), C(c), 14)),
    ("trange", {}, lambda c: talib.TRANGE(H(c), L(c), C(c))),
    ("stddev", {}, lambda c: talib.STDDEV(C(c), 5, 1)),
    ("var", {}, lambda c: talib.VAR(C(c), 14, 1)),
    ("obv", {}, lambda c: talib.OBV(C(c), V(c))),
    ("ad", {}, lambda c: talib.AD(H(c), L(c), C(c), V(c))),
    ("adosc", {}, lambda c: talib.ADOSC(H(c), L(c), C(c), V(c), 3, 10)),
    ("linearreg", {}, lambda c: talib.LINEARREG(C(c), 14)),
    ("linearreg_slope", {}, lambda c: talib.LINEARREG_SLOPE(C(c), 14)),
    ("linearreg_angle", {}, lambda c: talib.LINEARREG_ANGLE(C(c), 14)),
    ("linearreg_intercept", {}, lambda c: talib.LINEARREG_INTERCEPT(C(c), 14)),
    ("tsf", {}, lambda c: talib.TSF(C(c), 14)),
    ("correl", {}, lambda c: talib.CORREL(H(c), L(c), 5)),
    ("beta", {}, lambda c: talib.BETA(H(c), L(c), 5)),
    ("medprice", {}, lambda c: talib.MEDPRICE(H(c), L(c))),
    ("typprice", {}, lambda c: talib.TYPPRICE(H(c), L(c), C(c))),
    ("wclprice", {}, lambda c: talib.WCLPRICE(H(c), L(c), C(c))),
    ("avgprice", {}, lambda c: talib.AVGPRICE(O(c), H(c), L(c), C(c))),
]


@pytest.mark.parametrize("name,kwargs,expected", TALIB_CASES, ids=[c[0] for c in TALIB_CASES])
def test_talib_defined(candles, name, kwargs, expected):
    got = getattr(ta, name)(candles, sequential=True, **kwargs)
    want = expected(candles)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            exactly(g, w)
    else:
        exactly(got, want)


def test_ta_formulas_spot_checks(candles):
    """A few TA-Lib-backed ones checked against their textbook formula as well."""
    c = candles
    close_enough(ta.mom(c, 10, sequential=True)[10:], C(c)[10:] - C(c)[:-10])
    close_enough(ta.roc(c, 10, sequential=True)[10:], (C(c)[10:] / C(c)[:-10] - 1) * 100)
    close_enough(ta.wma(c, 30, sequential=True), ref_wma(C(c), 30))
    close_enough(ta.medprice(c, sequential=True), (H(c) + L(c)) / 2)
    close_enough(ta.typprice(c, sequential=True), (H(c) + L(c) + C(c)) / 3)
    close_enough(ta.wclprice(c, sequential=True), (H(c) + L(c) + 2 * C(c)) / 4)
    close_enough(ta.stddev(c, 5, sequential=True), pd.Series(C(c)).rolling(5).std(ddof=0).to_numpy(), rtol=1e-7)
    close_enough(ta.correl(c, 5, sequential=True), pd.Series(H(c)).rolling(5).corr(pd.Series(L(c))).to_numpy(),
                 rtol=1e-6, atol=1e-7)
    k = pd.Series(C(c))
    fastk = 100 * (k - pd.Series(L(c)).rolling(14).min()) / (pd.Series(H(c)).rolling(14).max() - pd.Series(L(c)).rolling(14).min())
    slowk = fastk.rolling(3).mean()
    st = ta.stoch(c, sequential=True)
    close_enough(st.k[20:], slowk.to_numpy()[20:], rtol=1e-8)
    close_enough(st.d[20:], slowk.rolling(3).mean().to_numpy()[20:], rtol=1e-8)
    macd = ta.macd(c, sequential=True)
    close_enough(macd.hist, macd.macd - macd.signal)
    kd = ta.kdj(c, sequential=True)
    s2 = talib.STOCH(H(c), L(c), C(c), 9, 3, 0, 3, 0)
    exactly(kd.k, s2[0])
    exactly(kd.j, 3 * s2[0] - 2 * s2[1])


# --------------------------------------------------------------------------------------
# everything else against independent computations
# --------------------------------------------------------------------------------------

def test_smma(candles):
    x = C(candles)
    p = 7
    out = np.full(len(x), np.nan)
    v = float(np.mean(x[:p]))
    out[p - 1] = v
    for i in range(p, len(x)):
        v = (v * (p - 1) + x[i]) / p
        out[i] = v
    close_enough(ta.smma(candles, p, sequential=True), out)


def test_dema_tema(candles):
    x = C(candles)
    e1 = ref_ema(x, 30)
    e2 = ref_ema(e1, 30)
    exactly(ta.dema(candles, 30, sequential=True), 2 * e1 - e2)
    e1, e2 = ref_ema(x, 9), ref_ema(ref_ema(x, 9), 9)
    e3 = ref_ema(e2, 9)
    exactly(ta.tema(candles, 9, sequential=True), 3 * e1 - 3 * e2 + e3)
    # same quantity as TA-Lib's (SMA-seeded) versions once the seed has decayed
    close_enough(ta.dema(candles, 30, sequential=True)[-50:], talib.DEMA(x, 30)[-50:], rtol=1e-6)


@pytest.mark.parametrize("period", [5, 9, 16])
def test_hma(candles, period):
    x = C(candles)
    diff = 2 * ref_wma(x, period // 2) - ref_wma(x, period)
    sq = int(math.sqrt(period))
    w = np.arange(1, sq + 1, dtype=float)
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        win = diff[i - sq + 1:i + 1] if i >= sq - 1 else []
        if len(win) == sq and not np.isnan(win).any():
            out[i] = np.dot(win, w) / w.sum()
    close_enough(ta.hma(candles, period, sequential=True), out, rtol=1e-8)


def test_vwma(candles):
    x, v = C(candles), V(candles)
    want = (pd.Series(x * v).rolling(20, min_periods=1).sum() / pd.Series(v).rolling(20, min_periods=1).sum())
    close_enough(ta.vwma(candles, 20, sequential=True), want.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("p", [20, 9, 2])
def test_zlema(candles, p):
    x = C(candles)
    lag = (p - 1) // 2
    a = 2 / (p + 1)
    out = np.full(len(x), np.nan)
    v = 2 * x[lag] - x[0]
    out[lag] = v
    for i in range(lag + 1, len(x)):
        v = a * (2 * x[i] - x[i - lag]) + (1 - a) * v
        out[i] = v
    close_enough(ta.zlema(candles, p, sequential=True), out)
    assert np.isnan(ta.zlema(candles[:p], p, sequential=True)).all()


def test_alma(candles):
    x = C(candles)
    p, sigma, off = 9, 6.0, 0.85
    m, s = off * (p - 1), p / sigma
    w = [math.exp(-((i - m) ** 2) / (2 * s * s)) for i in range(p)]
    out = np.full(len(x), np.nan)
    for i in range(p - 1, len(x)):
        out[i] = sum(w[j] * x[i - p + 1 + j] for j in range(p)) / sum(w)
    close_enough(ta.alma(candles, sequential=True), out)


def test_jma(candles):
    x = C(candles)
    period, phase, power = 7, 50, 2
    pr = phase / 100 + 1.5
    beta = 0.45 * (period - 1) / (0.45 * (period - 1) + 2)
    alpha = beta ** power
    e0, e1, e2, j = x[0], 0.0, 0.0, x[0]
    out = [j]
    for v in x[1:]:
        e0 = (1 - alpha) * v + alpha * e0
        e1 = (v - e0) * (1 - beta) + beta * e1
        e2 = (e0 + pr * e1 - j) * (1 - alpha) ** 2 + alpha ** 2 * e2
        j = e2 + j
        out.append(j)
    close_enough(ta.jma(candles, sequential=True), np.array(out))


def test_frama(candles):
    c = candles
    n, fc, sc = 10, 1, 300
    w = math.log(2 / (sc + 1))
    out = np.full(len(c), np.nan)
    out[n - 1] = np.mean(C(c)[:n])
    d_prev = 0.0
    for i in range(n, len(c)):
        h1, l1 = H(c)[i - n:i - n // 2].max(), L(c)[i - n:i - n // 2].min()
        h2, l2 = H(c)[i - n // 2:i].max(), L(c)[i - n // 2:i].min()
        h3, l3 = H(c)[i - n:i].max(), L(c)[i - n:i].min()
        n1, n2, n3 = (h1 - l1) / (n / 2), (h2 - l2) / (n / 2), (h3 - l3) / n
        d = (math.log(n1 + n2) - math.log(n3)) / math.log(2) if min(n1, n2, n3) > 0 else d_prev
        d_prev = d
        a = min(max(math.exp(w * (d - 1)), 0.1), 1)
        big_n = (sc - fc) * (((2 - a) / a - 1) / (sc - 1)) + fc
        alpha = min(max(2 / (big_n + 1), 2 / (sc + 1)), 1)
        out[i] = alpha * C(c)[i] + (1 - alpha) * out[i - 1]
    close_enough(ta.frama(c, sequential=True), out)
    close_enough(ta.frama(c, window=9, sequential=True), out)  # odd window rounds up


def test_ma_dispatch(candles):
    exactly(ta.ma(candles, 10, matype=0, sequential=True), ta.sma(candles, 10, sequential=True))
    exactly(ta.ma(candles, 10, matype=1, sequential=True), ta.ema(candles, 10, sequential=True))
    exactly(ta.ma(C(candles), 10, matype=2, sequential=True), talib.WMA(C(candles), 10))
    with pytest.raises(ValueError):
        ta.ma(candles, 10, matype=99)


def test_srsi(candles):
    x = C(candles)
    r = ref_rsi(x, 14)
    st = np.full(len(x), np.nan)
    for i in range(13, len(x)):
        win = r[i - 13:i + 1]
        if np.isnan(win).all():
            continue
        lo, hi = np.nanmin(win), np.nanmax(win)
        if hi != lo:
            st[i] = 100 * (r[i] - lo) / (hi - lo)
    k = ref_sma(st, 3)
    d = ref_sma(k, 3)
    res = ta.srsi(candles, sequential=True)
    assert isinstance(res, ta.StochasticRSI)
    close_enough(res.k, k)
    close_enough(res.d, d)
    exactly(ta.stochrsi(candles, sequential=True).k, res.k)


def test_ao(candles):
    hl2 = (H(candles) + L(candles)) / 2
    osc = ref_sma(hl2, 5) - ref_sma(hl2, 34)
    res = ta.ao(candles, sequential=True)
    exactly(res.osc, osc)
    close_enough(res.change[1:], np.diff(osc))


@pytest.mark.parametrize("period", [5, 14, 30])
def test_cmo_is_chandes_plain_sum_ratio(candles, period):
    """100 × (Σ gains − Σ losses) / (Σ gains + Σ losses) over the last `period` changes (the value
    Jesse 3.5.3 gives, measured), not TA-Lib's smoothed CMO."""
    x = C(candles)
    expected = np.full(len(x), np.nan)
    for i in range(period, len(x)):
        changes = [x[j] - x[j - 1] for j in range(i - period + 1, i + 1)]
        up = sum(c for c in changes if c > 0)
        down = sum(-c for c in changes if c < 0)
        expected[i] = 100 * (up - down) / (up + down)
    got = ta.cmo(candles, period, sequential=True)
    close_enough(got, expected)
    assert np.isnan(got[:period]).all() and not np.isnan(got[period])


def test_tsi(candles):
    x = C(candles)
    m = np.r_[np.nan, np.diff(x)]
    num = ref_talib_ema(ref_talib_ema(m, 25), 13)
    den = ref_talib_ema(ref_talib_ema(np.abs(m), 25), 13)
    close_enough(ta.tsi(candles, sequential=True), 100 * num / den, rtol=1e-8)


def test_fisher(candles):
    hl2 = (H(candles) + L(candles)) / 2
    p = 9
    f_out = np.full(len(hl2), np.nan)
    s_out = np.full(len(hl2), np.nan)
    val = fish = 0.0
    for i in range(p - 1, len(hl2)):
        mx, mn = hl2[i - p + 1:i + 1].max(), hl2[i - p + 1:i + 1].min()
        rng = (mx - mn) or 0.001
        val = 0.33 * 2 * ((hl2[i] - mn) / rng - 0.5) + 0.67 * val
        val = 0.999 if val > 0.99 else (-0.999 if val < -0.99 else val)
        s_out[i] = fish
        fish = 0.5 * math.log((1 + val) / (1 - val)) + 0.5 * fish
        f_out[i] = fish
    res = ta.fisher(candles, sequential=True)
    close_enough(res.fisher, f_out)
    close_enough(res.signal, s_out)


def test_kst(candles):
    x = pd.Series(C(candles))
    roc = lambda p: (x / x.shift(p) - 1) * 100
    line = (roc(10).rolling(10).mean() + 2 * roc(15).rolling(10).mean() + 3 * roc(20).rolling(10).mean()
            + 4 * roc(30).rolling(15).mean())
    res = ta.kst(candles, sequential=True)
    close_enough(res.line, line.to_numpy(), rtol=1e-7)
    close_enough(res.signal, line.rolling(9).mean().to_numpy(), rtol=1e-7)


def ref_supertrend(c, period, factor):
    atr = ref_atr(c, period)
    hl2 = (H(c) + L(c)) / 2
    cl = C(c)
    ub_basic, lb_basic = hl2 + factor * atr, hl2 - factor * atr
    ub, lb = list(ub_basic), list(lb_basic)
    for i in range(period, len(c)):
        if cl[i - 1] <= ub[i - 1]:
            ub[i] = min(ub_basic[i], ub[i - 1])
        if cl[i - 1] >= lb[i - 1]:
            lb[i] = max(lb_basic[i], lb[i - 1])
    trend = [math.nan] * len(c)
    changed = [0.0] * len(c)
    down = cl[period - 1] <= ub[period - 1]
    trend[period - 1] = ub[period - 1] if down else lb[period - 1]
    for i in range(period, len(c)):
        if down and cl[i] > ub[i]:
            down, changed[i] = False, 1.0
        elif not down and cl[i] < lb[i]:
            down, changed[i] = True, 1.0
        trend[i] = ub[i] if down else lb[i]
    return np.array(trend), np.array(changed)


@pytest.mark.parametrize("period,factor", [(10, 3), (7, 2)])
def test_supertrend(candles, period, factor):
    trend, changed = ref_supertrend(candles, period, factor)
    res = ta.supertrend(candles, period, factor, sequential=True)
    close_enough(res.trend, trend)
    exactly(res.changed, changed)
    assert changed.sum() > 0


def test_ichimoku(candles):
    c = candles[-80:]
    mid = lambda a, p: (a[-p:, 3].max() + a[-p:, 4].min()) / 2
    e = c[:-26]
    res = ta.ichimoku_cloud(candles)
    assert isinstance(res, ta.IchimokuCloud)
    assert res == (mid(c, 9), mid(c, 26), (mid(e, 9) + mid(e, 26)) / 2, mid(e, 52))
    assert all(np.isnan(v) for v in ta.ichimoku_cloud(candles[:79]))


def test_vortex(candles):
    c = candles
    p = 14
    tr = [math.nan] + ref_tr(c)[1:]
    plus = np.full(len(c), np.nan)
    minus = np.full(len(c), np.nan)
    for i in range(p, len(c)):
        vp = sum(abs(H(c)[j] - L(c)[j - 1]) for j in range(i - p + 1, i + 1))
        vm = sum(abs(L(c)[j] - H(c)[j - 1]) for j in range(i - p + 1, i + 1))
        t = sum(tr[i - p + 1:i + 1])
        plus[i], minus[i] = vp / t, vm / t
    res = ta.vortex(c, sequential=True)
    close_enough(res.plus, plus)
    close_enough(res.minus, minus)


def test_dpo(candles):
    x = C(candles)
    p = 5
    want = pd.Series(x).shift(p // 2 + 1).to_numpy() - ref_sma(x, p)
    close_enough(ta.dpo(candles, p, sequential=True), want)


def test_keltner_donchian(candles):
    c = candles
    mid = ref_ema(C(c), 20)
    atr = ref_atr(c, 20)
    k = ta.keltner(c, sequential=True)
    assert isinstance(k, ta.KeltnerChannel)
    exactly(k.middleband, mid)
    close_enough(k.upperband, mid + 2 * atr)
    close_enough(k.lowerband, mid - 2 * atr)
    d = ta.donchian(c, sequential=True)
    hh = pd.Series(H(c)).rolling(20).max().to_numpy()
    ll = pd.Series(L(c)).rolling(20).min().to_numpy()
    exactly(d.upperband, hh)
    exactly(d.lowerband, ll)
    close_enough(d.middleband, (hh + ll) / 2)


def test_chop(candles):
    c = candles
    p = 14
    tr = [math.nan] + ref_tr(c)[1:]
    out = np.full(len(c), np.nan)
    for i in range(p, len(c)):
        rng = H(c)[i - p + 1:i + 1].max() - L(c)[i - p + 1:i + 1].min()
        out[i] = 100 * math.log10(sum(tr[i - p + 1:i + 1]) / rng) / math.log10(p)
    close_enough(ta.chop(c, sequential=True), out)


def test_vwap(candles):
    c = candles
    df = pd.DataFrame({"day": pd.to_datetime(c[:, 0], unit="ms").floor("D"),
                       "pv": (H(c) + L(c) + C(c)) / 3 * V(c), "v": V(c)})
    want = (df.groupby("day")["pv"].cumsum() / df.groupby("day")["v"].cumsum()).to_numpy()
    close_enough(ta.vwap(c, sequential=True), want)
    # a new day restarts the average at the typical price of its first candle
    first_of_day = np.flatnonzero(np.r_[True, np.diff(df["day"].to_numpy()) != np.timedelta64(0)])
    close_enough(ta.vwap(c, sequential=True)[first_of_day], ((H(c) + L(c) + C(c)) / 3)[first_of_day])


def test_cvi_efi(candles):
    c = candles
    e = ref_ema(H(c) - L(c), 5)
    want = np.full(len(c), np.nan)
    want[9:] = 100 * (e[9:] - e[4:-5]) / e[4:-5]
    close_enough(ta.cvi(c, sequential=True), want)
    force = np.diff(C(c)) * V(c)[1:]
    close_enough(ta.efi(c, sequential=True), np.r_[np.nan, ref_ema(force, 13)])


def test_zscore_cfo(candles):
    x = C(candles)
    mean = pd.Series(x).rolling(14).mean().to_numpy()
    sd = pd.Series(x).rolling(14).std(ddof=0).to_numpy()
    close_enough(ta.zscore(candles, sequential=True), (x - mean) / sd, rtol=1e-6)
    exactly(ta.zscore(candles, sequential=True), (x - talib.SMA(x, 14)) / talib.STDDEV(x, 14, 1))
    exactly(ta.zscore(candles, 10, ma_type=1, nbdev=2, sequential=True),
            (x - talib.EMA(x, 10)) / talib.STDDEV(x, 10, 2))
    lr = talib.LINEARREG(x, 14)
    close_enough(ta.cfo(candles, sequential=True), 100 * (x - lr) / x)


def test_heikin_ashi(candles):
    c = candles
    o, cl, h, l = O(c), C(c), H(c), L(c)
    n = len(c)
    ha_o, ha_c, ha_h, ha_l = (np.full(n, np.nan) for _ in range(4))
    for i in range(1, n):
        ha_o[i] = (o[i - 1] + cl[i - 1]) / 2
        ha_c[i] = (o[i] + cl[i] + h[i] + l[i]) / 4
        ha_h[i] = max(h[i], ha_o[i], ha_c[i])
        ha_l[i] = min(l[i], ha_o[i], ha_c[i])
    res = ta.heikin_ashi_candles(c, sequential=True)
    assert res._fields == ("open", "close", "high", "low")
    for got, want in zip(res, (ha_o, ha_c, ha_h, ha_l)):
        exactly(got, want)


# --------------------------------------------------------------------------------------
# generic contract: every indicator
# --------------------------------------------------------------------------------------

GENERIC = [name for name in ta.INDICATORS if name != "ichimoku_cloud"]


def _as_tuple(res):
    return tuple(res) if isinstance(res, tuple) else (res,)


@pytest.mark.parametrize("name", GENERIC)
def test_sequential_matches_last_value_under_warm_up(candles, name):
    fn = getattr(ta, name)
    last = _as_tuple(fn(candles))
    seq_full = _as_tuple(fn(candles, sequential=True))
    seq_warm = _as_tuple(fn(candles[-240:], sequential=True))
    assert len(last) == len(seq_full)
    for v, s_full, s_warm in zip(last, seq_full, seq_warm):
        assert isinstance(v, float)
        assert isinstance(s_full, np.ndarray) and s_full.shape == (len(candles),)
        assert s_warm.shape == (240,)
        assert v == s_warm[-1] or (np.isnan(v) and np.isnan(s_warm[-1]))
        assert not np.isnan(v), f"{name} is NaN on 240 bars"


@pytest.mark.parametrize("name", ["sma", "ema", "rsi", "atr", "bollinger_bands", "supertrend", "macd", "vwap"])
def test_warm_up_setting(candles, name):
    fn = getattr(ta, name)
    helpers.set_warm_up_candles(100)
    assert helpers.get_warm_up_candles() == 100
    last = _as_tuple(fn(candles))
    want = _as_tuple(fn(candles[-100:], sequential=True))
    assert all(v == w[-1] for v, w in zip(last, want))
    # a sequential call ignores the setting
    assert _as_tuple(fn(candles, sequential=True))[0].shape == (len(candles),)


def test_warm_up_changes_recursive_values(candles):
    helpers.set_warm_up_candles(50)
    short = ta.ema(candles, 20)
    helpers.set_warm_up_candles(400)
    long_ = ta.ema(candles, 20)
    assert short != long_
    with pytest.raises(ValueError):
        helpers.set_warm_up_candles(0)


SOURCE_INDICATORS = [
    ("sma", {}), ("ema", {}), ("wma", {}), ("dema", {}), ("tema", {}), ("trima", {}), ("hma", {}), ("kama", {}),
    ("zlema", {}), ("smma", {}), ("t3", {}), ("alma", {}), ("jma", {}), ("rsi", {}), ("srsi", {}), ("macd", {}),
    ("roc", {}), ("mom", {}), ("tsi", {}), ("ppo", {}), ("apo", {}), ("cmo", {}), ("trix", {}), ("kst", {}),
    ("dpo", {}), ("ht_trendline", {}), ("midpoint", {}), ("bollinger_bands", {}), ("bollinger_bands_width", {}),
    ("stddev", {}), ("var", {}), ("linearreg", {}), ("linearreg_slope", {}), ("tsf", {}), ("cfo", {}),
    ("zscore", {}), ("ma", {}),
]


@pytest.mark.parametrize("source_type", helpers.SOURCE_TYPES)
@pytest.mark.parametrize("name,kwargs", SOURCE_INDICATORS, ids=[s[0] for s in SOURCE_INDICATORS])
def test_source_type(candles, name, kwargs, source_type):
    fn = getattr(ta, name)
    cols = {"open": O, "close": C, "high": H, "low": L, "volume": V}
    c = candles
    src = {
        "hl2": (H(c) + L(c)) / 2, "hlc3": (H(c) + L(c) + C(c)) / 3, "ohlc4": (O(c) + H(c) + L(c) + C(c)) / 4,
    }.get(source_type)
    if src is None:
        src = cols[source_type](c)
    got = _as_tuple(fn(c, source_type=source_type, sequential=True, **kwargs))
    want = _as_tuple(fn(np.ascontiguousarray(src), sequential=True, **kwargs))
    for g, w in zip(got, want):
        exactly(g, w)
    # a 1-D input is truncated by the warm-up too
    assert _as_tuple(fn(src, **kwargs))[0] == _as_tuple(fn(src[-240:], sequential=True, **kwargs))[0][-1]


def test_source_helpers(candles):
    with pytest.raises(ValueError):
        helpers.get_candle_source(candles, "hlcc4")
    with pytest.raises(ValueError):
        ta.sma(candles, 5, source_type="bogus")
    padded = helpers.same_length(np.arange(5.0), np.array([1.0, 2.0]))
    assert np.isnan(padded[:3]).all() and list(padded[3:]) == [1.0, 2.0]
    assert len(helpers.slice_candles(candles, False)) == 240
    assert len(helpers.slice_candles(candles, True)) == len(candles)


@pytest.mark.parametrize("name", GENERIC)
def test_short_input_is_nan_not_error(name):
    c = make_candles(n=3)
    res = _as_tuple(getattr(ta, name)(c, sequential=True))
    assert all(r.shape == (3,) for r in res)


NAMEDTUPLES = {
    "macd": ("macd", "signal", "hist"), "bollinger_bands": ("upperband", "middleband", "lowerband"),
    "stoch": ("k", "d"), "aroon": ("down", "up"), "supertrend": ("trend", "changed"),
    "ichimoku_cloud": ("conversion_line", "base_line", "span_a", "span_b"),
    "donchian": ("upperband", "middleband", "lowerband"), "keltner": ("upperband", "middleband", "lowerband"),
    "di": ("plus", "minus"), "dm": ("plus", "minus"), "vortex": ("plus", "minus"), "srsi": ("k", "d"),
    "ao": ("osc", "change"), "fisher": ("fisher", "signal"), "kst": ("line", "signal"), "kdj": ("k", "d", "j"),
    "stochf": ("k", "d"), "heikin_ashi_candles": ("open", "close", "high", "low"),
}


@pytest.mark.parametrize("name,fields", NAMEDTUPLES.items(), ids=list(NAMEDTUPLES))
def test_named_tuple_fields(candles, name, fields):
    assert getattr(ta, name)(candles)._fields == fields


def test_at_least_60_indicators():
    assert len(ta.INDICATORS) >= 60
    assert all(callable(getattr(ta, n)) for n in ta.INDICATORS)
