"""Candles-mode scenarios: the full backtest rerun on transformed candles, in a process pool.

`CandleScenarios` holds everything a scenario needs and is shipped to each worker process once
(the pool's initializer), so the candles cross the process boundary once per worker rather than
once per scenario. A scenario returns its CANDLE_METRICS and its downsampled equity curve values
(every scenario shares the original's curve timestamps: same period, same daily samples).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from candlewire.backtests.job import _strategy_class as strategy_class
from candlewire.backtests.loader import snapshot_loader
from candlewire.engine.backtest import DEFAULT_LOGGING, run_backtest
from candlewire.montecarlo.candles import scenario_rng, transform_candles

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
    strategy_sources: dict[str, str] = field(default_factory=dict)
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


def run_scenarios(setup: CandleScenarios, indices: Iterable[int], cpu_cores: int = 0) -> Iterator[dict[str, Any]]:
    """Each scenario's summary as it finishes (any order). cpu_cores 0 uses every core; 1 runs
    here, in this process."""
    indices = list(indices)
    workers = min(cpu_cores or os.cpu_count() or 1, len(indices))
    if workers <= 1:
        run = setup.runner()
        for index in indices:
            yield run(index)
        return
    # spawn: the job process runs an event-flushing thread, which fork would copy mid-flight.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(setup,)) as pool:
        pending: set[Future] = {pool.submit(_run_in_worker, index) for index in indices}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


_worker_run: Callable[[int], dict[str, Any]] | None = None


def _start_worker(setup: CandleScenarios) -> None:
    global _worker_run
    _worker_run = setup.runner()


def _run_in_worker(index: int) -> dict[str, Any]:
    assert _worker_run is not None
    return _worker_run(index)
