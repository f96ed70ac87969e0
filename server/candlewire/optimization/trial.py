"""One trial, run on a worker: the training and the testing backtest of one set of hyperparameters.

`TrialSetup` is the job's read-only input, shipped to each worker once; `evaluate(setup, params)` is
the task. Metrics come back with non-finite values as None (JSON columns refuse NaN). An exception
in either backtest (usually the strategy's) makes the trial failed instead of ending the search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from candlewire.backtests.job import strategy_class
from candlewire.backtests.loader import snapshot_loader
from candlewire.engine.backtest import run_backtest
from candlewire.strategies.workspace import StrategySnapshot

PERIODS = ("training", "testing")


@dataclass(frozen=True)
class TrialSetup:
    # Distinguishes setups in a worker that served several jobs (strategy classes are cached per setup).
    token: str
    config: dict[str, Any]
    # Strategy names (loaded from strategy_sources) or Strategy classes; routes[0]'s gets the trial's hyperparameters.
    routes: list[dict[str, Any]]
    data_routes: list[dict[str, Any]]
    strategy_sources: dict[str, StrategySnapshot]
    strategies_root: str
    # period → (trading candles, warm-up candles), each keyed "exchange-symbol".
    candles: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]


_routes_by_setup: dict[str, list[dict[str, Any]]] = {}


def _routes(setup: TrialSetup) -> list[dict[str, Any]]:
    """Routes with strategy classes, loaded from the recorded sources once per worker and setup."""
    if setup.token not in _routes_by_setup:
        load = snapshot_loader(setup.strategy_sources, Path(setup.strategies_root))
        _routes_by_setup.clear()
        _routes_by_setup[setup.token] = [
            route if isinstance(route["strategy"], type) else {**route, "strategy": strategy_class(load, route)}
            for route in setup.routes
        ]
    return _routes_by_setup[setup.token]


def evaluate(setup: TrialSetup, params: dict[str, Any]) -> dict[str, Any]:
    """{"training_metrics", "testing_metrics"}, or {"error"} when a backtest raised."""
    outcome: dict[str, Any] = {}
    try:
        routes = _routes(setup)
        hyperparameters = [params] + [None] * (len(routes) - 1)
        for period in PERIODS:
            candles, warm_up = setup.candles[period]
            result = run_backtest(setup.config, routes, setup.data_routes, candles, warm_up, hyperparameters)
            outcome[f"{period}_metrics"] = finite_metrics(result["metrics"])
    except Exception as error:  # noqa: BLE001 - a trial's failure is its result
        return {"error": f"{type(error).__name__}: {error}"}
    return outcome


def finite_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        name: None if isinstance(value, float) and not math.isfinite(value) else value
        for name, value in metrics.items()
    }
