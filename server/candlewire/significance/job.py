"""The `significance_test` job, run in a worker process: stored candles + the recorded strategy
source → signals at every bar → the bootstrap test (`bootstrap.significance_test`'s dict)."""

from __future__ import annotations

from typing import Any

from candlewire.backtests import job as backtest_job
from candlewire.backtests.job import route_hyperparameters
from candlewire.backtests.job import strategy_class
from candlewire.backtests.loader import snapshot_loader
from candlewire.jobs.context import JobContext
from candlewire.significance.bootstrap import significance_test
from candlewire.significance.signals import record_signals
from candlewire.storage.db import create_engine
from candlewire.strategies.workspace import StrategyWorkspace


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    backtest = params["backtest"]
    engine = create_engine(ctx.database_url)
    try:
        candles, warm_up = backtest_job.load_markets(engine, backtest)
    finally:
        engine.dispose()
    load = snapshot_loader(
        {entry["name"]: entry["source"] for entry in backtest["strategy_sources"]}, StrategyWorkspace(ctx.data_dir).root
    )
    (route,) = backtest["routes"]
    strategy = strategy_class(load, route)
    ctx.log(f"recording the entry signal of {route['strategy']} on {route['symbol']} {route['timeframe']}")
    recorded = record_signals(
        backtest_job.engine_config(backtest),
        {**route, "strategy": strategy},
        backtest["data_routes"],
        candles,
        warm_up,
        route_hyperparameters(strategy, backtest["hyperparameters"]),
        on_progress=ctx.progress,
    )
    ctx.log(f"bootstrapping the mean return {params['resamples']} times")
    result = significance_test(
        recorded["signals"], recorded["closes"], recorded["bars_per_year"], params["resamples"], params["seed"]
    )
    if result["warning"]:
        ctx.log(result["warning"], "warning")
    return result
