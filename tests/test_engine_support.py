"""Helpers for the engine tests: handmade candles and a one-call backtest (no tests here)."""

from __future__ import annotations

import numpy as np

from candlewire.engine.backtest import run_backtest

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MINUTE = 60_000
EXCHANGE = "Test Exchange"
SYMBOL = "BTC-USDT"


def candles(rows, start_ms: int = START_MS) -> np.ndarray:
    """rows of (open, close, high, low[, volume]) -> (n, 6) candles one minute apart."""
    out = np.empty((len(rows), 6))
    for i, row in enumerate(rows):
        o, c, h, low = row[:4]
        out[i] = (start_ms + i * MINUTE, o, c, h, low, row[4] if len(row) > 4 else 1.0)
    return out


def flat(n: int, price: float = 100.0) -> list[tuple]:
    return [(price, price, price, price)] * n


def config(**overrides) -> dict:
    base = {
        "starting_balance": 10_000,
        "fee": 0.0,
        "type": "futures",
        "futures_leverage": 1,
        "futures_leverage_mode": "cross",
        "exchange": EXCHANGE,
        "warm_up_candles": 0,
    }
    base.update(overrides)
    return base


def run(strategy, rows=None, *, timeframe="1m", array=None, extra_routes=(), warmup=None, data_routes=(), **overrides):
    array = candles(rows) if array is None else array
    routes = [{"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": timeframe, "strategy": strategy}]
    all_candles = {f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": array}}
    for symbol, route_strategy, route_rows in extra_routes:
        routes.append({"exchange": EXCHANGE, "symbol": symbol, "timeframe": timeframe, "strategy": route_strategy})
        all_candles[f"{EXCHANGE}-{symbol}"] = {"exchange": EXCHANGE, "symbol": symbol, "candles": candles(route_rows)}
    hyperparameters = overrides.pop("hyperparameters", None)
    return run_backtest(
        config(**overrides), routes, list(data_routes), all_candles, warmup, hyperparameters
    )
