"""Technical indicators with the Jesse API: ``from candlewire import indicators as ta``.

Every indicator takes candles of shape (n, 6) laid out
``[timestamp_ms, open, close, high, low, volume]`` (or a 1-D array where only a price
series is needed), returns the last value by default, the full NaN-padded series with
``sequential=True``, and named tuples for multi-output indicators.  Non-sequential
calls only see the last ``warm_up_candles`` bars (see :func:`set_warm_up_candles`).
"""

from .candles import HA, heikin_ashi_candles
from .helpers import (
    get_candle_source,
    get_warm_up_candles,
    np_shift,
    same_length,
    set_warm_up_candles,
    slice_candles,
)
from .momentum import (
    AO, KDJ, KST, MACD, FisherTransform, Stochastic, StochasticFast, StochasticRSI,
    ao, apo, bop, cci, cmo, fisher, kdj, kst, macd, mfi, mom, ppo, roc, rocp, rocr, rocr100, rsi, srsi,
    stoch, stochf, stochrsi, trix, tsi, ultosc, willr,
)
from .moving_averages import alma, dema, ema, frama, hma, jma, kama, ma, sma, smma, t3, tema, trima, vwma, wma, zlema
from .statistics import (
    avgprice, beta, cfo, correl, linearreg, linearreg_angle, linearreg_intercept, linearreg_slope, medprice, tsf,
    typprice, wclprice, zscore,
)
from .trend import (
    AROON, DI, DM, DX, VORTEX, IchimokuCloud, SuperTrend,
    adx, adxr, aroon, aroonosc, di, dm, dpo, dx, ht_trendline, ichimoku_cloud, midpoint, midprice, sar,
    supertrend, vortex,
)
from .volatility import (
    BollingerBands, DonchianChannel, KeltnerChannel,
    atr, bollinger_bands, bollinger_bands_width, chop, donchian, keltner, natr, stddev, trange, var,
)
from .volume import ad, adosc, cvi, efi, obv, vwap

INDICATORS = (
    # moving averages
    "sma", "ema", "wma", "dema", "tema", "trima", "hma", "kama", "vwma", "zlema", "smma", "t3", "alma", "frama",
    "jma", "ma",
    # momentum
    "rsi", "stoch", "stochf", "srsi", "stochrsi", "macd", "cci", "mfi", "roc", "rocp", "rocr", "rocr100", "mom",
    "willr", "ao", "tsi", "ppo", "apo", "cmo", "ultosc", "trix", "bop", "fisher", "kst", "kdj",
    # trend
    "adx", "adxr", "dx", "di", "dm", "aroon", "aroonosc", "supertrend", "sar", "ichimoku_cloud", "vortex", "dpo",
    "ht_trendline", "midpoint", "midprice",
    # volatility
    "atr", "natr", "trange", "bollinger_bands", "bollinger_bands_width", "keltner", "donchian", "stddev", "var",
    "chop",
    # volume
    "obv", "ad", "adosc", "vwap", "cvi", "efi",
    # statistics
    "linearreg", "linearreg_slope", "linearreg_angle", "linearreg_intercept", "tsf", "cfo", "zscore", "correl",
    "beta", "medprice", "typprice", "wclprice", "avgprice",
    # candles
    "heikin_ashi_candles",
)

__all__ = [
    *INDICATORS,
    "get_candle_source", "slice_candles", "same_length", "np_shift", "set_warm_up_candles", "get_warm_up_candles",
    "MACD", "Stochastic", "StochasticFast", "StochasticRSI", "AO", "FisherTransform", "KST", "KDJ",
    "DI", "DM", "DX", "AROON", "SuperTrend", "IchimokuCloud", "VORTEX",
    "BollingerBands", "KeltnerChannel", "DonchianChannel", "HA",
]
