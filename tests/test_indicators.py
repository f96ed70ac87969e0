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


def make_edge_candles(n=400, seed=3):
    """Tick-rounded prices (ties in highs / lows), a 40-bar flat stretch (O=C=H=L) and
    zero-volume bars."""
    rng = np.random.default_rng(seed)
    close = np.round(100 + np.cumsum(rng.choice([-1, 0, 0, 1], n) * 0.5), 1)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.choice([0, 0, 0.5, 1.0], n)
    low = np.minimum(open_, close) - rng.choice([0, 0, 0.5, 1.0], n)
    flat = slice(200, 240)
    close[flat] = open_[flat] = high[flat] = low[flat] = close[199]
    open_[240] = close[199]
    high[240] = max(high[240], open_[240])
    low[240] = min(low[240], open_[240])
    volume = np.round(rng.lognormal(3, 0.7, n))
    volume[300:320] = 0.0
    ts = 1_704_067_200_000 + np.arange(n, dtype=np.float64) * 60_000
    return np.column_stack([ts, open_, close, high, low, volume])


@pytest.fixture(scope="module")
def edge_candles():
    return make_edge_candles()


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
    ("cci", {}, lambda c: talib.CCI(H(c), L(c), C(c), 14)),
    ("roc", {}, lambda c: talib.ROC(C(c), 10)),
    ("rocp", {}, lambda c: talib.ROCP(C(c), 10)),
    ("rocr", {}, lambda c: talib.ROCR(C(c), 10)),
    ("rocr100", {}, lambda c: talib.ROCR100(C(c), 10)),
    ("mom", {}, lambda c: talib.MOM(C(c), 10)),
    ("willr", {}, lambda c: talib.WILLR(H(c), L(c), C(c), 14)),
    ("bop", {}, lambda c: talib.BOP(O(c), H(c), L(c), C(c))),
    ("ht_trendline", {}, lambda c: talib.HT_TRENDLINE(C(c))),
    ("midpoint", {}, lambda c: talib.MIDPOINT(C(c), 14)),
    ("midprice", {}, lambda c: talib.MIDPRICE(H(c), L(c), 14)),
    ("stddev", {}, lambda c: talib.STDDEV(C(c), 5, 1)),
    ("var", {}, lambda c: talib.VAR(C(c), 14, 1)),
    ("obv", {}, lambda c: talib.OBV(C(c), V(c))),
    ("ad", {}, lambda c: talib.AD(H(c), L(c), C(c), V(c))),
    ("linearreg", {}, lambda c: talib.LINEARREG(C(c), 14)),
    ("linearreg_slope", {}, lambda c: talib.LINEARREG_SLOPE(C(c), 14)),
    ("linearreg_angle", {}, lambda c: talib.LINEARREG_ANGLE(C(c), 14)),
    ("linearreg_intercept", {}, lambda c: talib.LINEARREG_INTERCEPT(C(c), 14)),
    ("tsf", {}, lambda c: talib.TSF(C(c), 14)),
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
    # once every window is full the NaN-aware SMAs are plain SMAs
    close_enough(st.k[20:], slowk.to_numpy()[20:], rtol=1e-8)
    close_enough(st.d[20:], slowk.rolling(3).mean().to_numpy()[20:], rtol=1e-8)
    macd = ta.macd(c, sequential=True)
    close_enough(macd.hist, macd.macd - macd.signal)


# --------------------------------------------------------------------------------------
# everything else against independent computations
# --------------------------------------------------------------------------------------

def test_smma(candles):
    """Adjusted exponentially weighted mean, alpha = 1/period, written as the explicit
    weighted sum over every bar so far (no seed, no NaN prefix)."""
    x = C(candles)
    for p in (5, 7, 14):
        w = 1 - 1 / p
        out = np.empty(len(x))
        for i in range(len(x)):
            ages = np.arange(i, -1, -1)
            out[i] = np.sum(w ** ages * x[: i + 1]) / np.sum(w ** ages)
        got = ta.smma(candles, p, sequential=True)
        close_enough(got, out, rtol=1e-12)
        assert got[0] == x[0] and not np.isnan(got).any()


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


@pytest.mark.parametrize("period", [5, 9, 16, 20])
def test_hma(candles, period):
    """WMA(2 WMA(x, p/2) - WMA(x, p), sqrt(p)) with every WMA's warm-up taken as 0."""
    x = C(candles)

    def wma0(v, p):
        out = ref_wma(v, p)
        return np.where(np.isnan(out), 0.0, out)

    diff = 2 * wma0(x, period // 2) - wma0(x, period)
    want = wma0(diff, int(math.sqrt(period)))
    got = ta.hma(candles, period, sequential=True)
    close_enough(got, want, rtol=1e-8)
    assert not np.isnan(got).any() and got[0] == 0.0
    # from the first full window on it is the textbook Hull MA
    sq = int(math.sqrt(period))
    start = period - 1 + sq - 1
    textbook = ref_wma(2 * ref_wma(x, period // 2) - ref_wma(x, period), sq)
    close_enough(got[start:], textbook[start:], rtol=1e-8)


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


@pytest.mark.parametrize("period,phase,power", [(7, 50, 2), (14, 0, 1), (10, -150, 3)])
def test_jma(candles, period, phase, power):
    """Filter states e0, e1, e2 start at 0 and the output at x[0]."""
    x = C(candles)
    pr = 0.5 if phase < -100 else (2.5 if phase > 100 else phase / 100 + 1.5)
    beta = 0.45 * (period - 1) / (0.45 * (period - 1) + 2)
    alpha = beta ** power
    e0, e1, e2, j = 0.0, 0.0, 0.0, x[0]
    out = [j]
    for v in x[1:]:
        e0 = (1 - alpha) * v + alpha * e0
        e1 = (v - e0) * (1 - beta) + beta * e1
        e2 = (e0 + pr * e1 - j) * (1 - alpha) ** 2 + alpha ** 2 * e2
        j = e2 + j
        out.append(j)
    close_enough(ta.jma(candles, period, phase, power, sequential=True), np.array(out))


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
    """MA type numbers are the reference's."""
    c = candles
    exactly(ta.ma(c, 10, matype=0, sequential=True), ta.sma(c, 10, sequential=True))
    exactly(ta.ma(c, 10, matype=1, sequential=True), ta.ema(c, 10, sequential=True))
    exactly(ta.ma(C(c), 10, matype=2, sequential=True), talib.WMA(C(c), 10))
    for matype, fn in ((3, ta.dema), (4, ta.tema), (5, ta.trima), (6, ta.kama), (10, ta.hma),
                       (11, ta.linearreg), (20, ta.jma), (23, ta.smma), (24, ta.vwma), (27, ta.alma)):
        exactly(ta.ma(c, 10, matype=matype, sequential=True), fn(c, 10, sequential=True))
    assert ta.ma(c, 10, matype=10) == ta.hma(c, 10)
    for bad in (7, 8, 19, 99):
        with pytest.raises(ValueError, match="Invalid matype"):
            ta.ma(c, 10, matype=bad)
    with pytest.raises(ValueError, match="wilders"):
        ta.ma(c, 10, matype=12)
    with pytest.raises(ValueError):
        ta.ma(C(c), 10, matype=24)


def ref_rsi_100(x, p):
    """Wilder RSI as in ref_rsi but 100 when the average loss is 0 (srsi's own RSI)."""
    out = [math.nan] * len(x)
    up = sum(max(x[i] - x[i - 1], 0.0) for i in range(1, p + 1)) / p
    down = sum(max(x[i - 1] - x[i], 0.0) for i in range(1, p + 1)) / p
    rsi_of = lambda u, d: 100.0 if d == 0 else 100 - 100 / (1 + u / d)
    out[p] = rsi_of(up, down)
    for i in range(p + 1, len(x)):
        up = (up * (p - 1) + max(x[i] - x[i - 1], 0.0)) / p
        down = (down * (p - 1) + max(x[i - 1] - x[i], 0.0)) / p
        out[i] = rsi_of(up, down)
    return np.array(out)


def ref_srsi(x, p, ps, kp, dp):
    r = ref_rsi_100(x, p)
    n = len(x)
    raw = np.full(n, np.nan)
    for i in range(p + ps - 1, n):
        win = r[i - ps + 1:i + 1]
        if win.max() != win.min():
            raw[i] = 100 * (r[i] - win.min()) / (win.max() - win.min())
    k = np.full(n, np.nan)
    for i in range(p + ps - 1 + kp - 1, n):
        win = raw[i - kp + 1:i + 1]
        if not np.isnan(win).any():
            k[i] = sum(win) / kp
    d = np.full(n, np.nan)
    seen = []
    for i in range(n):
        if not np.isnan(k[i]):
            seen.append(k[i])
            if len(seen) >= dp:
                d[i] = sum(seen[-dp:]) / dp
    return k, d


@pytest.mark.parametrize("p,ps,kp,dp", [(14, 14, 3, 3), (10, 8, 4, 2), (7, 5, 1, 3)])
def test_srsi(candles, p, ps, kp, dp):
    """raw %K over the last `ps` RSI values; %K waits for `kp` raw values; %D averages the
    last `dp` non-NaN %K values."""
    k, d = ref_srsi(C(candles), p, ps, kp, dp)
    res = ta.srsi(candles, p, ps, kp, dp, sequential=True)
    assert isinstance(res, ta.StochasticRSI)
    close_enough(res.k, k)
    close_enough(res.d, d)
    assert np.isnan(res.k[: p + ps + kp - 2]).all() and not np.isnan(res.k[p + ps + kp - 2])
    exactly(ta.stochrsi(candles, p, ps, kp, dp, sequential=True).k, res.k)


def test_srsi_flat_rsi_window(edge_candles):
    k, d = ref_srsi(C(edge_candles), 14, 14, 3, 3)
    res = ta.srsi(edge_candles, sequential=True)
    close_enough(res.k, k)
    close_enough(res.d, d)


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
    """m[0] = 0; spec EMAs (started at the first value); no NaN prefix."""
    x = C(candles)
    for lp, sp in ((25, 13), (20, 8)):
        m = np.r_[0.0, np.diff(x)]
        num = ref_ema(ref_ema(m, lp), sp)
        den = ref_ema(ref_ema(np.abs(m), lp), sp)
        with np.errstate(invalid="ignore", divide="ignore"):
            want = 100 * num / den
        want[~np.isfinite(want)] = 0.0
        got = ta.tsi(candles, lp, sp, sequential=True)
        close_enough(got, want, rtol=1e-8)
        assert got[0] == 0.0 and not np.isnan(got).any()


@pytest.mark.parametrize("p", [9, 14])
def test_fisher(candles, p):
    """From index p: v = 0.66 ((hl2 - min) / (max - min) - 0.5) + 0.67 v_prev clamped to
    +/-0.999; fisher = 0.5 ln((1+v)/(1-v)) + 0.5 fisher_prev; signal = previous fisher;
    0.0 before."""
    hl2 = (H(candles) + L(candles)) / 2
    f_out = np.zeros(len(hl2))
    s_out = np.zeros(len(hl2))
    val = 0.0
    for i in range(p, len(hl2)):
        mx, mn = hl2[i - p + 1:i + 1].max(), hl2[i - p + 1:i + 1].min()
        val = 0.0 if mx == mn else 0.66 * ((hl2[i] - mn) / (mx - mn) - 0.5) + 0.67 * val
        val = min(max(val, -0.999), 0.999)
        s_out[i] = f_out[i - 1]
        f_out[i] = 0.5 * math.log((1 + val) / (1 - val)) + 0.5 * f_out[i - 1]
    res = ta.fisher(candles, p, sequential=True)
    close_enough(res.fisher, f_out)
    close_enough(res.signal, s_out)
    assert (res.fisher[:p] == 0).all() and res.fisher[p] != 0


def ref_nan_sma(x, p):
    """Mean of the non-NaN values of each full window (NaN when there is none)."""
    out = np.full(len(x), np.nan)
    for i in range(p - 1, len(x)):
        vals = [v for v in x[i - p + 1:i + 1] if not math.isnan(v)]
        if vals:
            out[i] = sum(vals) / len(vals)
    return out


def test_kst(candles):
    x = C(candles)
    roc = lambda p: np.r_[np.full(p, np.nan), (x[p:] / x[:-p] - 1) * 100]
    line = (ref_nan_sma(roc(10), 10) + 2 * ref_nan_sma(roc(15), 10) + 3 * ref_nan_sma(roc(20), 10)
            + 4 * ref_nan_sma(roc(30), 15))
    res = ta.kst(candles, sequential=True)
    close_enough(res.line, line, rtol=1e-7)
    close_enough(res.signal, ref_nan_sma(line, 9), rtol=1e-7)
    assert np.isnan(res.line[:30]).all() and not np.isnan(res.line[30]) and not np.isnan(res.signal[30])
    # once every window is full it is the textbook KST
    xs = pd.Series(x)
    proc = lambda p: (xs / xs.shift(p) - 1) * 100
    full = (proc(10).rolling(10).mean() + 2 * proc(15).rolling(10).mean() + 3 * proc(20).rolling(10).mean()
            + 4 * proc(30).rolling(15).mean())
    close_enough(res.line[44:], full.to_numpy()[44:], rtol=1e-7)


def ref_supertrend(c, period, factor):
    tr = ref_tr(c)
    atr = [0.0] * (period - 1) + [sum(tr[:period]) / period]
    for i in range(period, len(c)):
        atr.append((atr[-1] * (period - 1) + tr[i]) / period)
    atr = np.array(atr)
    close_enough(atr[period - 1:], ref_atr(c, period)[period - 1:], rtol=1e-12)  # the spec ATR up to the last bits
    hl2 = (H(c) + L(c)) / 2
    cl = C(c)
    ub_basic, lb_basic = hl2 + factor * atr, hl2 - factor * atr
    ub, lb = list(ub_basic), list(lb_basic)
    for i in range(period, len(c)):
        if cl[i - 1] <= ub[i - 1]:
            ub[i] = min(ub_basic[i], ub[i - 1])
        if cl[i - 1] >= lb[i - 1]:
            lb[i] = max(lb_basic[i], lb[i - 1])
    trend = [0.0] * len(c)
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
    exactly(res.trend, trend)
    exactly(res.changed, changed)
    assert changed.sum() > 0
    assert (res.trend[: period - 1] == 0).all() and res.trend[period - 1] != 0


@pytest.mark.parametrize("periods", [(9, 26, 52, 26), (7, 22, 44, 22)])
def test_ichimoku(candles, periods):
    """Spans as of the bar displacement-1 bars back (the last displacement-1 candles
    dropped)."""
    cp, bp, lp, disp = periods
    c = candles[-80:]
    mid = lambda a, p: (a[-p:, 3].max() + a[-p:, 4].min()) / 2
    e = c[:-(disp - 1)]
    res = ta.ichimoku_cloud(candles, cp, bp, lp, disp)
    assert isinstance(res, ta.IchimokuCloud)
    assert res == (mid(c, cp), mid(c, bp), (mid(e, cp) + mid(e, bp)) / 2, mid(e, lp))
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


@pytest.mark.parametrize("p", [5, 10, 20])
def test_dpo(candles, p):
    x = C(candles)
    want = pd.Series(x).shift(p // 2 + 1).to_numpy() - ref_sma(x, p)
    want[: p + p // 2] = np.nan
    got = ta.dpo(candles, p, sequential=True)
    close_enough(got, want)
    assert np.isnan(got[: p + p // 2]).all() and not np.isnan(got[p + p // 2])


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


@pytest.mark.parametrize("p,scalar,drift", [(14, 100, 1), (20, 100, 3), (10, 50, 1)])
def test_chop(candles, p, scalar, drift):
    """TR[0] = high - low, so the first value is at period-1; ATR(drift > 1) is the
    SMA-seeded Wilder average whose NaN warm-up counts as 0 in the sum."""
    c = candles
    tr = ref_tr(c)
    if drift == 1:
        a = tr
    else:
        a = [0.0] * (drift - 1) + [sum(tr[:drift]) / drift]
        for i in range(drift, len(c)):
            a.append(tr[i] / drift + (1 - 1 / drift) * a[-1])
    out = np.full(len(c), np.nan)
    for i in range(p - 1, len(c)):
        rng = H(c)[i - p + 1:i + 1].max() - L(c)[i - p + 1:i + 1].min()
        out[i] = scalar * (math.log10(sum(a[i - p + 1:i + 1])) - math.log10(rng)) / math.log10(p)
    got = ta.chop(c, p, scalar, drift, sequential=True)
    close_enough(got, out)
    assert not np.isnan(got[p - 1])


def test_vwap(candles):
    c = candles
    df = pd.DataFrame({"day": pd.to_datetime(c[:, 0], unit="ms").floor("D"),
                       "pv": (H(c) + L(c) + C(c)) / 3 * V(c), "v": V(c)})
    want = (df.groupby("day")["pv"].cumsum() / df.groupby("day")["v"].cumsum()).to_numpy()
    close_enough(ta.vwap(c, sequential=True), want)
    # a new day restarts the average at the typical price of its first candle
    first_of_day = np.flatnonzero(np.r_[True, np.diff(df["day"].to_numpy()) != np.timedelta64(0)])
    close_enough(ta.vwap(c, sequential=True)[first_of_day], ((H(c) + L(c) + C(c)) / 3)[first_of_day])


@pytest.mark.parametrize("p", [5, 10])
def test_cvi_efi(candles, p):
    c = candles
    e = ref_ema(H(c) - L(c), p)
    want = np.full(len(c), np.nan)
    want[p:] = 100 * (e[p:] - e[:-p]) / e[:-p]
    close_enough(ta.cvi(c, p, sequential=True), want)
    force = np.diff(C(c)) * V(c)[1:]
    ef = ref_ema(force, p)
    ef[: p - 1] = np.nan
    got = ta.efi(c, p, sequential=True)
    close_enough(got, np.r_[np.nan, ef])
    assert np.isnan(got[:p]).all() and not np.isnan(got[p])


def test_zscore_cfo(candles):
    x = C(candles)
    mean = pd.Series(x).rolling(14).mean().to_numpy()
    sd = pd.Series(x).rolling(14).std(ddof=0).to_numpy()
    close_enough(ta.zscore(candles, sequential=True), (x - mean) / sd, rtol=1e-6)
    # MA by the reference's type numbers (1 = spec EMA), population std-dev * nbdev
    sd10 = pd.Series(x).rolling(10).std(ddof=0).to_numpy()
    close_enough(ta.zscore(candles, 10, matype=1, nbdev=2, sequential=True), (x - ref_ema(x, 10)) / (sd10 * 2),
                 rtol=1e-6)
    # devtype 1: |x - window mean| averaged (NaN-aware) over the window; 2: median absolute deviation
    p = 10
    dev = np.full(len(x), np.nan)
    dev[p - 1:] = [abs(x[i] - np.mean(x[i - p + 1:i + 1])) for i in range(p - 1, len(x))]
    mad = ref_nan_sma(dev, p)
    close_enough(ta.zscore(candles, p, devtype=1, sequential=True), (x - ref_sma(x, p)) / mad, rtol=1e-9)
    med = np.full(len(x), np.nan)
    for i in range(p - 1, len(x)):
        w = x[i - p + 1:i + 1]
        med[i] = np.median(np.abs(w - np.median(w)))
    close_enough(ta.zscore(candles, p, devtype=2, sequential=True), (x - ref_sma(x, p)) / med, rtol=1e-9)
    with pytest.raises(TypeError):
        ta.zscore(candles, ma_type=1)
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
# formulas matched to the reference's (Jesse 3.5.3) outputs, incl. warm-up prefixes
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("p,source_type", [(18, "close"), (9, "close"), (30, "hl2")])
def test_trix(candles, p, source_type):
    """10000 x the 1-bar change of a triple spec EMA of ln(source); NaN on bar 0 only."""
    x = helpers.get_candle_source(candles, source_type)
    e3 = ref_ema(ref_ema(ref_ema(np.log(x), p), p), p)
    want = np.r_[np.nan, [(e3[i] - e3[i - 1]) * 10000 for i in range(1, len(x))]]
    exactly(ta.trix(candles, p, source_type=source_type, sequential=True), want)


def ref_aroon_positions(c, window):
    """Position (0 = oldest) of the first highest high / first lowest low per window."""
    h, l = list(H(c)), list(L(c))
    ups, downs = [math.nan] * len(c), [math.nan] * len(c)
    for i in range(window - 1, len(c)):
        wh, wl = h[i - window + 1:i + 1], l[i - window + 1:i + 1]
        ups[i], downs[i] = wh.index(max(wh)), wl.index(min(wl))
    return np.array(ups), np.array(downs)


@pytest.mark.parametrize("p", [14, 25, 5])
def test_aroonosc_and_aroon(candles, edge_candles, p):
    """aroonosc: windows of `period` bars, 100 (pos(high) - pos(low)) / period.  aroon:
    windows of period + 1 bars, 100 pos / period.  The earliest bar wins a tie."""
    for c in (candles, edge_candles):
        up, down = ref_aroon_positions(c, p)
        exactly(ta.aroonosc(c, p, sequential=True), 100 * (up - down) / p)
        up, down = ref_aroon_positions(c, p + 1)
        res = ta.aroon(c, p, sequential=True)
        exactly(res.up, 100 * (up / p))
        exactly(res.down, 100 * (down / p))
    assert np.isnan(ta.aroonosc(candles, p, sequential=True)[: p - 1]).all()


def ref_tr_dm(c):
    h, l = H(c), L(c)
    tr = ref_tr(c)
    plus, minus = [0.0], [0.0]
    for i in range(1, len(c)):
        up, down = h[i] - h[i - 1], l[i - 1] - l[i]
        plus.append(up if up > down and up > 0 else 0.0)
        minus.append(down if down > up and down > 0 else 0.0)
    return tr, plus, minus


@pytest.mark.parametrize("p", [14, 7, 20])
def test_adxr(candles, p):
    """Wilder running sums from bar 0, DX, ADX = plain mean of the last p DX, ADXR =
    (ADX + ADX p bars ago) / 2, first at 2p-1."""
    tr, plus, minus = ref_tr_dm(candles)
    st, sp, sm = tr[0], plus[0], minus[0]
    dxs = []
    for i in range(len(tr)):
        if i:
            st, sp, sm = st - st / p + tr[i], sp - sp / p + plus[i], sm - sm / p + minus[i]
        dip, dim = sp / st * 100, sm / st * 100
        dxs.append(abs(dip - dim) / (dip + dim) * 100 if dip + dim else 0.0)
    adx_ = [math.nan] * (p - 1) + [sum(dxs[i - p + 1:i + 1]) / p for i in range(p - 1, len(tr))]
    want = np.array([math.nan] * p + [(adx_[i] + adx_[i - p]) / 2 for i in range(p, len(tr))])
    got = ta.adxr(candles, p, sequential=True)
    close_enough(got, want)
    assert np.isnan(got[: 2 * p - 1]).all() and not np.isnan(got[2 * p - 1])


@pytest.mark.parametrize("p", [14, 7])
def test_adx_di_dm(candles, p):
    tr, plus, minus = ref_tr_dm(candles)
    n = len(tr)
    # dm: plain sum of bars 1..p at index p, then s - s/p + x
    for raw, got in ((plus, ta.dm(candles, p, sequential=True).plus), (minus, ta.dm(candles, p, sequential=True).minus)):
        want = [math.nan] * p + [sum(raw[1:p + 1])]
        for i in range(p + 1, n):
            want.append(want[-1] - want[-1] / p + raw[i])
        exactly(got, np.array(want))
    # di: same sum seed, then (prev (p-1) + x) / p
    st, sp, sm = sum(tr[1:p + 1]), sum(plus[1:p + 1]), sum(minus[1:p + 1])
    dplus, dminus = [math.nan] * p, [math.nan] * p
    for i in range(p, n):
        if i > p:
            st, sp, sm = (st * (p - 1) + tr[i]) / p, (sp * (p - 1) + plus[i]) / p, (sm * (p - 1) + minus[i]) / p
        dplus.append(100 * sp / st)
        dminus.append(100 * sm / st)
    res = ta.di(candles, p, sequential=True)
    close_enough(res.plus, np.array(dplus))
    close_enough(res.minus, np.array(dminus))
    # adx: DX from index p on the Wilder sums; first ADX at 2p = mean of DX[p..2p-1]
    st = sp = sm = 0.0
    dxs = {}
    for i in range(1, n):
        if i <= p:
            st, sp, sm = st + tr[i], sp + plus[i], sm + minus[i]
        else:
            st, sp, sm = st - st / p + tr[i], sp - sp / p + plus[i], sm - sm / p + minus[i]
        if i >= p:
            a, b = 100 * sp / st, 100 * sm / st
            dxs[i] = 100 * abs(a - b) / (a + b)
    want = [math.nan] * (2 * p) + [sum(dxs[i] for i in range(p, 2 * p)) / p]
    for i in range(2 * p + 1, n):
        want.append((want[-1] * (p - 1) + dxs[i]) / p)
    got = ta.adx(candles, p, sequential=True)
    close_enough(got, np.array(want))
    assert np.isnan(got[: 2 * p]).all() and not np.isnan(got[2 * p])
    with pytest.raises(ValueError):
        ta.adx(C(candles), p)


@pytest.mark.parametrize("di_length,adx_smoothing", [(14, 14), (10, 20)])
def test_dx(candles, di_length, adx_smoothing):
    """DX(adx, plusDI, minusDI): Wilder RMAs whose first value is a x[0] + (1 - a) x[-1]."""
    tr, plus, minus = ref_tr_dm(candles)

    def rma(x, p):
        a = 1 / p
        out = [a * x[0] + (1 - a) * x[-1]]
        for v in x[1:]:
            out.append(a * v + (1 - a) * out[-1])
        return np.array(out)

    rt, rp, rm = rma(tr, di_length), rma(plus, di_length), rma(minus, di_length)
    pdi, mdi = 100 * rp / rt, 100 * rm / rt
    ratio = np.abs(pdi - mdi) / (pdi + mdi)
    adx_ = 100 * rma(list(ratio), adx_smoothing)
    res = ta.dx(candles, di_length, adx_smoothing, sequential=True)
    assert isinstance(res, ta.DX) and res._fields == ("adx", "plusDI", "minusDI")
    close_enough(res.adx, adx_)
    close_enough(res.plusDI, pdi)
    close_enough(res.minusDI, mdi)
    last = ta.dx(candles, di_length=di_length, adx_smoothing=adx_smoothing)
    assert all(isinstance(v, float) for v in last)
    with pytest.raises(TypeError):
        ta.dx(candles, period=14)


@pytest.mark.parametrize("fk,sk,sd", [(14, 3, 3), (5, 2, 4)])
def test_stoch(candles, edge_candles, fk, sk, sd):
    """raw %K NaN on a flat window; %K / %D = NaN-aware SMAs, both from index fk-1."""
    for c in (candles, edge_candles):
        hh = pd.Series(H(c)).rolling(fk).max().to_numpy()
        ll = pd.Series(L(c)).rolling(fk).min().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(hh > ll, 100 * (C(c) - ll) / (hh - ll), np.nan)
        k = ref_nan_sma(raw, sk)
        res = ta.stoch(c, fk, sk, 0, sd, 0, sequential=True)
        close_enough(res.k, k)
        close_enough(res.d, ref_nan_sma(k, sd))
    assert np.isnan(res.k[: fk - 1]).all() and not np.isnan(ta.stoch(candles, fk, sk, 0, sd, 0, sequential=True).d[fk - 1])
    # the MA types are ignored as the reference ignores them (only 24 / 29 are rejected)
    exactly(ta.stoch(candles, slowk_matype=1, sequential=True).k, ta.stoch(candles, sequential=True).k)
    with pytest.raises(ValueError):
        ta.stoch(candles, slowk_matype=24)


@pytest.mark.parametrize("fk,fd", [(5, 3), (9, 4)])
def test_stochf(candles, edge_candles, fk, fd):
    """%K = 50 on a flat window, %D = NaN-aware SMA of %K, both from index fk-1."""
    for c in (candles, edge_candles):
        hh = pd.Series(H(c)).rolling(fk).max().to_numpy()
        ll = pd.Series(L(c)).rolling(fk).min().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.where(np.isnan(hh), np.nan, np.where(hh > ll, 100 * (C(c) - ll) / (hh - ll), 50.0))
        res = ta.stochf(c, fk, fd, sequential=True)
        close_enough(res.k, k)
        close_enough(res.d, ref_nan_sma(k, fd))
    assert (ta.stochf(edge_candles, fk, fd, sequential=True).k == 50).any()


@pytest.mark.parametrize("p,fast,slow", [(14, 2, 30), (10, 2, 30), (10, 3, 20)])
def test_kama(candles, p, fast, slow):
    """x itself for the first p bars; then out += ((er (fa - sa) + sa)^2) (x - out)."""
    x = C(candles)
    fa, sa = 2 / (fast + 1), 2 / (slow + 1)
    out = list(x[:p])
    for i in range(p, len(x)):
        vol = sum(abs(x[j] - x[j - 1]) for j in range(i - p + 1, i + 1))
        er = abs(x[i] - x[i - p]) / vol if vol else 0.0
        out.append(out[-1] + (er * (fa - sa) + sa) ** 2 * (x[i] - out[-1]))
    got = ta.kama(candles, p, fast, slow, sequential=True)
    close_enough(got, np.array(out))
    assert not np.isnan(got).any()
    # the TA-Lib KAMA (speeds 2 / 30) is the same series from index p on
    close_enough(ta.kama(candles, p, sequential=True)[p:], talib.KAMA(x, p)[p:], rtol=1e-8)


@pytest.mark.parametrize("fk,sk,sd", [(9, 3, 3), (14, 5, 4)])
def test_kdj(candles, fk, sk, sd):
    """Windows since bar 0 until the first full one; K, D = NaN-aware SMAs; J = 3K - 2D."""
    c = candles
    hh = np.array([H(c)[max(0, i - fk + 1):i + 1].max() for i in range(len(c))])
    ll = np.array([L(c)[max(0, i - fk + 1):i + 1].min() for i in range(len(c))])
    raw = 100 * (C(c) - ll) / (hh - ll)
    k = ref_nan_sma(raw, sk)
    d = ref_nan_sma(k, sd)
    res = ta.kdj(c, fk, sk, 0, sd, 0, sequential=True)
    close_enough(res.k, k)
    close_enough(res.d, d)
    close_enough(res.j, 3 * k - 2 * d)
    assert not np.isnan(res.d[sk - 1])
    # other MA types go through ``ma`` (1 = spec EMA)
    res1 = ta.kdj(c, fk, sk, 1, sd, 1, sequential=True)
    close_enough(res1.k, ref_ema(raw, sk))
    close_enough(res1.d, ref_ema(ref_ema(raw, sk), sd))


@pytest.mark.parametrize("p", [14, 7])
def test_mfi(candles, edge_candles, p):
    """Positive / negative raw money flow by the change of the typical price (bar 0 counts
    as neither); 100 when the negative sum is 0; first value at p-1."""
    for c in (candles, edge_candles):
        tp = (H(c) + L(c) + C(c)) / 3
        flow = tp * V(c)
        want = np.full(len(c), np.nan)
        for i in range(p - 1, len(c)):
            pos = sum(flow[j] for j in range(max(1, i - p + 1), i + 1) if tp[j] > tp[j - 1])
            neg = sum(flow[j] for j in range(max(1, i - p + 1), i + 1) if tp[j] < tp[j - 1])
            want[i] = 100.0 if neg == 0 else 100 - 100 / (1 + pos / neg)
        close_enough(ta.mfi(c, p, sequential=True), want)


@pytest.mark.parametrize("p1,p2,p3", [(7, 14, 28), (5, 10, 20)])
def test_ultosc(candles, p1, p2, p3):
    c = candles
    cl, h, l = C(c), H(c), L(c)
    bp = [0.0] + [cl[i] - min(l[i], cl[i - 1]) for i in range(1, len(c))]
    tr = [h[0] - l[0]] + [max(h[i], cl[i - 1]) - min(l[i], cl[i - 1]) for i in range(1, len(c))]
    want = np.full(len(c), np.nan)
    for i in range(p3 - 1, len(c)):
        a1, a2, a3 = (sum(bp[i - p + 1:i + 1]) / sum(tr[i - p + 1:i + 1]) for p in (p1, p2, p3))
        want[i] = 100 * (4 * a1 + 2 * a2 + a3) / 7
    got = ta.ultosc(c, p1, p2, p3, sequential=True)
    close_enough(got, want)
    assert not np.isnan(got[p3 - 1])


@pytest.mark.parametrize("fast,slow", [(3, 10), (5, 20)])
def test_adosc(candles, fast, slow):
    c = candles
    ad_line, acc = [], 0.0
    for h, l, cl, v in zip(H(c), L(c), C(c), V(c)):
        acc += ((cl - l) - (h - cl)) / (h - l) * v if h != l else 0.0
        ad_line.append(acc)
    want = ref_ema(np.array(ad_line), fast) - ref_ema(np.array(ad_line), slow)
    got = ta.adosc(c, fast, slow, sequential=True)
    close_enough(got, want, rtol=1e-9, atol=1e-6)
    assert got[0] == 0.0 and not np.isnan(got).any()


def test_trange_natr(candles):
    exactly(ta.trange(candles, sequential=True), np.array(ref_tr(candles)))
    for p in (14, 7):
        got = ta.natr(candles, p, sequential=True)
        exactly(got, ref_atr(candles, p) / C(candles) * 100)
        assert np.isnan(got[: p - 1]).all() and not np.isnan(got[p - 1])


@pytest.mark.parametrize("fast,slow,signal", [(12, 26, 9), (8, 20, 5)])
def test_macd(candles, fast, slow, signal):
    """Spec EMAs started at the first value; signal = EMA of the MACD line (starting at 0)."""
    x = C(candles)
    m = ref_ema(x, fast) - ref_ema(x, slow)
    sig = ref_ema(m, signal)
    res = ta.macd(candles, fast, slow, signal, sequential=True)
    exactly(res.macd, m)
    exactly(res.signal, sig)
    exactly(res.hist, m - sig)
    assert res.macd[0] == 0.0


@pytest.mark.parametrize("fast,slow,matype", [(12, 26, 0), (5, 20, 1), (12, 26, 2)])
def test_ppo_apo(candles, fast, slow, matype):
    """fast / slow MAs of :func:`ma` (reference numbers: 0 spec SMA, 1 spec EMA, 2 WMA)."""
    x = C(candles)
    mas = {0: ref_sma, 1: ref_ema, 2: ref_wma}[matype]
    f, sl = mas(x, fast), mas(x, slow)
    close_enough(ta.apo(candles, fast, slow, matype, sequential=True), f - sl, rtol=1e-9, atol=1e-8)
    close_enough(ta.ppo(candles, fast, slow, matype, sequential=True), 100 * (f - sl) / sl, rtol=1e-9, atol=1e-8)
    if matype == 0:  # TA-Lib's PPO / APO with SMAs are the same quantity
        close_enough(ta.ppo(candles, fast, slow, sequential=True), talib.PPO(x, fast, slow, 0), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("p,v", [(5, 0), (8, 0.7)])
def test_t3(candles, p, v):
    x = C(candles)
    e = [x]
    for _ in range(6):
        e.append(ref_ema(e[-1], p))
    want = (-v ** 3) * e[6] + (3 * v ** 2 + 3 * v ** 3) * e[5] + (-6 * v ** 2 - 3 * v - 3 * v ** 3) * e[4] \
        + (1 + 3 * v + v ** 3 + 3 * v ** 2) * e[3]
    got = ta.t3(candles, p, v, sequential=True)
    close_enough(got, want)
    assert got[0] == x[0]


@pytest.mark.parametrize("acc,mx", [(0.02, 0.2), (0.03, 0.3)])
def test_sar(candles, edge_candles, acc, mx):
    for c in (candles, edge_candles):
        h, l = H(c), L(c)
        up = h[1] > h[0]
        out = [l[0] if up else h[0]]
        ep, af = (h[0] if up else l[0]), acc
        for i in range(1, len(c)):
            prev = out[-1]
            if up:
                s = min([prev + af * (ep - prev)] + list(l[max(0, i - 2):i]))
                if l[i] < s:
                    s, up, af, ep = ep, False, acc, l[i]
                elif h[i] > ep:
                    ep, af = h[i], min(af + acc, mx)
            else:
                s = max([prev - af * (prev - ep)] + list(h[max(0, i - 2):i]))
                if h[i] > s:
                    s, up, af, ep = ep, True, acc, h[i]
                elif l[i] < ep:
                    ep, af = l[i], min(af + acc, mx)
            out.append(s)
        exactly(ta.sar(c, acc, mx, sequential=True), np.array(out))


@pytest.mark.parametrize("p", [5, 10])
def test_beta(candles, p):
    """cov(close, benchmark close) / var(benchmark close) per window, on prices."""
    bench = make_candles(seed=11)
    x, y = C(candles), C(bench)
    want = np.full(len(x), np.nan)
    for i in range(p - 1, len(x)):
        wx, wy = x[i - p + 1:i + 1], y[i - p + 1:i + 1]
        want[i] = np.sum((wx - wx.mean()) * (wy - wy.mean())) / np.sum((wy - wy.mean()) ** 2)
    close_enough(ta.beta(candles, bench, p, sequential=True), want)
    close_enough(ta.beta(candles, benchmark_candles=bench, period=p, sequential=True), want)
    assert ta.beta(candles, bench, p) == ta.beta(candles[-240:], bench[-240:], p, sequential=True)[-1]
    with pytest.raises(TypeError):
        ta.beta(candles, period=p)


def test_correl_flat_window_is_nan(edge_candles):
    c = edge_candles
    want = np.full(len(c), np.nan)
    for i in range(4, len(c)):
        wx, wy = H(c)[i - 4:i + 1], L(c)[i - 4:i + 1]
        dx_, dy_ = wx - wx.mean(), wy - wy.mean()
        den = math.sqrt(np.sum(dx_ ** 2) * np.sum(dy_ ** 2))
        want[i] = np.sum(dx_ * dy_) / den if den else math.nan
    got = ta.correl(c, sequential=True)
    close_enough(got, want)
    assert np.isnan(got[210])


# --------------------------------------------------------------------------------------
# generic contract: every indicator
# --------------------------------------------------------------------------------------

GENERIC = [name for name in ta.INDICATORS if name != "ichimoku_cloud"]


def _as_tuple(res):
    return tuple(res) if isinstance(res, tuple) else (res,)


def _call(name, c, **kwargs):
    """Call an indicator; ``beta`` gets a benchmark of the same length."""
    fn = getattr(ta, name)
    if name == "beta":
        bench = make_candles(n=len(c), seed=11)
        return fn(c, bench, **kwargs)
    return fn(c, **kwargs)


@pytest.mark.parametrize("name", GENERIC)
def test_sequential_matches_last_value_under_warm_up(candles, name):
    last = _as_tuple(_call(name, candles))
    seq_full = _as_tuple(_call(name, candles, sequential=True))
    if name == "beta":
        seq_warm = _as_tuple(ta.beta(candles[-240:], make_candles(n=len(candles), seed=11)[-240:], sequential=True))
    else:
        seq_warm = _as_tuple(_call(name, candles[-240:], sequential=True))
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
    res = _as_tuple(_call(name, c, sequential=True))
    assert all(r.shape == (3,) for r in res)


NAMEDTUPLES = {
    "macd": ("macd", "signal", "hist"), "bollinger_bands": ("upperband", "middleband", "lowerband"),
    "stoch": ("k", "d"), "aroon": ("down", "up"), "supertrend": ("trend", "changed"),
    "ichimoku_cloud": ("conversion_line", "base_line", "span_a", "span_b"),
    "donchian": ("upperband", "middleband", "lowerband"), "keltner": ("upperband", "middleband", "lowerband"),
    "di": ("plus", "minus"), "dm": ("plus", "minus"), "dx": ("adx", "plusDI", "minusDI"), "vortex": ("plus", "minus"), "srsi": ("k", "d"),
    "ao": ("osc", "change"), "fisher": ("fisher", "signal"), "kst": ("line", "signal"), "kdj": ("k", "d", "j"),
    "stochf": ("k", "d"), "heikin_ashi_candles": ("open", "close", "high", "low"),
}


@pytest.mark.parametrize("name,fields", NAMEDTUPLES.items(), ids=list(NAMEDTUPLES))
def test_named_tuple_fields(candles, name, fields):
    assert getattr(ta, name)(candles)._fields == fields


def test_at_least_60_indicators():
    assert len(ta.INDICATORS) >= 60
    assert all(callable(getattr(ta, n)) for n in ta.INDICATORS)
