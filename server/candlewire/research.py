"""Jesse's research API for notebooks and scripts: run a backtest on arrays, read and store
1-minute candles.

    from candlewire import research
    candles = research.get_candles("Binance Perpetual Futures", "BTC-USDT", "1m", start_ms, finish_ms)
    result = research.backtest(config, routes, [], {"Binance Perpetual Futures-BTC-USDT": {...}})
"""

from __future__ import annotations

import numpy as np

from candlewire.engine.backtest import run_backtest
from candlewire.engine.timeframes import aggregate, timeframe_minutes


def backtest(
    config: dict,
    routes: list[dict],
    data_routes: list[dict],
    candles: dict,
    warmup_candles: dict | None = None,
    hyperparameters: dict | None = None,
    fast_mode: bool = False,
    generate_charts: bool = False,
) -> dict:
    """Run a backtest; returns the engine's result dict (metrics, trades, orders,
    daily_balances, equity_curve, benchmark, charts, logs, ...). `fast_mode` is accepted
    for compatibility: the engine always takes its fast path."""
    return run_backtest(
        config, routes, data_routes, candles, warmup_candles, hyperparameters, generate_charts=generate_charts
    )


def _engine(database_url: str | None):
    from candlewire.settings import Settings
    from candlewire.storage.db import create_engine

    return create_engine(database_url or Settings.from_env().database_url)


def get_candles(
    exchange: str, symbol: str, timeframe: str, start_ms: int, finish_ms: int, database_url: str | None = None
) -> np.ndarray:
    """Stored candles in [start_ms, finish_ms), aggregated to `timeframe` by count from the
    first stored minute."""
    from candlewire.storage.candles import load_candles

    minutes = timeframe_minutes(timeframe)
    engine = _engine(database_url)
    try:
        one_minute = load_candles(engine, exchange, symbol, int(start_ms), int(finish_ms) - 1)
    finally:
        engine.dispose()
    return one_minute if minutes == 1 else aggregate(one_minute, minutes)


def store_candles(candles: np.ndarray, exchange: str, symbol: str, database_url: str | None = None) -> int:
    """Insert 1-minute candles (timestamps already stored are skipped); returns how many were new.
    A fresh database gets its tables first."""
    from candlewire.storage.candles import insert_candles
    from candlewire.storage.db import migrate

    engine = _engine(database_url)
    try:
        migrate(engine)
        return insert_candles(engine, exchange, symbol, np.asarray(candles, dtype=np.float64))
    finally:
        engine.dispose()
