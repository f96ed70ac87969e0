"""The `significance_test` job, run in a worker process: stored candles + the recorded strategy
source → signals at every bar → the bootstrap test (`bootstrap.significance_test`'s dict)."""

from __future__ import annotations

from typing import Any

from candlewire.backtests import job as backtest_job
from candlewire.backtests.job import route_hyperparameters, strategy_class
from candlewire.jobs.context import JobContext
from candlewire.significance.bootstrap import significance_test
from candlewire.significance.signals import record_signals


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    backtest = params["backtest"]
    candles, warm_up, load = backtest_job.load_inputs(backtest, ctx)
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
