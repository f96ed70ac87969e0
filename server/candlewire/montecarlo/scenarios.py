"""Candles-mode scenarios: the full backtest rerun on transformed candles, on the research executor.

`CandleScenarios` holds everything a scenario needs and is the executor's shared payload, so the
candles reach each worker once rather than once per scenario. A scenario returns its
CANDLE_METRICS and its downsampled equity curve values (every scenario shares the original's
curve timestamps: same period, same daily samples).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from candlewire.backtests.job import strategy_class
from candlewire.backtests.loader import snapshot_loader
from candlewire.engine.backtest import DEFAULT_LOGGING, run_backtest
from candlewire.execution import executor_for
from candlewire.montecarlo.candles import scenario_rng, transform_candles
from candlewire.strategies.workspace import StrategySnapshot

CANDLE_METRICS = (
    "net_profit_percentage", "max_drawdown", "sharpe_ratio", "win_rate", "total", "annual_return", "calmar_ratio",
)


@dataclass(frozen=True)
class CandleScenarios:
    config: dict[str, Any]
    # Each route's "strategy" is a Strategy subclass, or a name in `strategy_sources`.
    routes: list[dict[str, Any]]
    data_routes: list[dict[str, Any]]
    candles: dict[str, np.ndarray]
    warm_up: dict[str, np.ndarray]
    hyperparameters: list | dict | None
    pipeline: list[dict[str, Any]]
    batch_length: int
    seed: int
    # Indices of the equity curve kept for charts; None keeps every point.
    curve_columns: np.ndarray | None = None
    strategy_sources: dict[str, StrategySnapshot] = field(default_factory=dict)
    strategies_root: str = ""

    def runner(self) -> Callable[[int], dict[str, Any]]:
        """run(index) -> {"index", "metrics": {name: value}, "curve": [values]} for this process."""
        routes = self.routes
        if self.strategy_sources:
            load = snapshot_loader(self.strategy_sources, Path(self.strategies_root))
            routes = [{**route, "strategy": strategy_class(load, route)} for route in routes]
        config = {**self.config, "logging": dict.fromkeys(DEFAULT_LOGGING, False)}
        columns = slice(None) if self.curve_columns is None else self.curve_columns

        def run(index: int) -> dict[str, Any]:
            rng = scenario_rng(self.seed, index)
            candles = {key: transform_candles(array, self.pipeline, self.batch_length, rng) for key, array in self.candles.items()}
            result = run_backtest(config, routes, self.data_routes, candles, self.warm_up, self.hyperparameters)
            return {
                "index": index,
                "metrics": {name: result["metrics"][name] for name in CANDLE_METRICS},
                "curve": np.asarray(result["equity_curve"]["values"])[columns].tolist(),
            }

        return run


def run_scenarios(
    setup: CandleScenarios, indices: Iterable[int], cpu_cores: int = 0, scheduler: str | None = None
) -> Iterator[dict[str, Any]]:
    """Each scenario's summary as it finishes (any order), on `execution.executor_for(cpu_cores)`:
    a Dask cluster when one is configured, else a local pool (0: every core; 1: this process)."""
    indices = list(indices)
    with executor_for(min(cpu_cores or os.cpu_count() or 1, len(indices)), scheduler).share(setup) as shared:
        for _, summary in shared.map_unordered(run_scenario, indices):
            yield summary


# The runner built for the payload a worker holds: strategies load once per worker, not per scenario.
_runner_of: tuple[CandleScenarios, Callable[[int], dict[str, Any]]] | None = None


def run_scenario(setup: CandleScenarios, index: int) -> dict[str, Any]:
    global _runner_of
    if _runner_of is None or _runner_of[0] is not setup:
        _runner_of = (setup, setup.runner())
    return _runner_of[1](index)
