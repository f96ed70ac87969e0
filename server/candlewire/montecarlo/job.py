"""The `monte_carlo` job, run in a worker process (params: `request.resolve_monte_carlo`).

The original run is the source backtest's stored result, or the backtest run here first (when
the request gave routes and a period). Each scenario streams as a partial result
{"scenario": {"index", "metrics", "equity_curve": {timestamps_ms, values}}}; the final result
is `analysis`'s dict.
"""

from __future__ import annotations

from typing import Any

from candlewire.backtests import job as backtest_job
from candlewire.backtests.job import route_hyperparameters, strategy_class
from candlewire.backtests.loader import recorded_snapshots
from candlewire.engine.backtest import DEFAULT_LOGGING
from candlewire.errors import FailedPrecondition
from candlewire.jobs.context import JobContext
from candlewire.montecarlo.analysis import candles_monte_carlo, trades_monte_carlo
from candlewire.montecarlo.request import MIN_TRADES
from candlewire.montecarlo.scenarios import CandleScenarios
from candlewire.storage import sessions as session_store
from candlewire.storage.db import create_engine
from candlewire.strategies.workspace import StrategyWorkspace


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    original = _original_result(params, ctx)

    def on_scenario(index: int, metrics: dict[str, float], timestamps: list[int], values: list[float]) -> None:
        ctx.result({"scenario": {"index": index, "metrics": metrics, "equity_curve": {"timestamps_ms": timestamps, "values": values}}})

    if params["mode"] == "trades":
        ctx.log(f"shuffling {len(original['trades'])} trades into {params['scenarios']} scenarios")
        return trades_monte_carlo(original, params["scenarios"], params["seed"], on_scenario, ctx.progress)
    ctx.log(f"rerunning the backtest on {params['scenarios']} transformed candle sets")
    return candles_monte_carlo(
        _candle_scenarios(params, ctx), original, params["scenarios"], params["cpu_cores"], on_scenario, ctx.progress
    )


class _Silenced:
    """The job context for the original backtest: its progress and log lines are not the Monte Carlo's."""

    def __init__(self, ctx: JobContext):
        self.database_url = ctx.database_url
        self.data_dir = ctx.data_dir

    def progress(self, done: int, total: int, current_time_ms: int | None = None) -> None:
        pass

    def log(self, text: str, level: str = "info") -> None:
        pass


def _original_result(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    if params["source_backtest_id"]:
        engine = create_engine(ctx.database_url)
        try:
            record = session_store.get_session(engine, params["source_backtest_id"])
        finally:
            engine.dispose()
        return record.result
    ctx.log("running the original backtest")
    quiet = {**params["backtest"], "logging": dict.fromkeys(DEFAULT_LOGGING, False)}
    result = backtest_job.run(quiet, _Silenced(ctx))
    if params["mode"] == "trades" and len(result["trades"]) < MIN_TRADES:
        raise FailedPrecondition(
            f"the backtest closed {len(result['trades'])} trade(s): TRADES mode needs at least {MIN_TRADES} to shuffle"
        )
    return result


def _candle_scenarios(params: dict[str, Any], ctx: JobContext) -> CandleScenarios:
    backtest = params["backtest"]
    candles, warm_up, load = backtest_job.load_inputs(backtest, ctx)
    return CandleScenarios(
        config=backtest_job.engine_config(backtest),
        routes=backtest["routes"],
        data_routes=backtest["data_routes"],
        candles=candles,
        warm_up=warm_up,
        hyperparameters=[
            route_hyperparameters(strategy_class(load, route), backtest["hyperparameters"]) for route in backtest["routes"]
        ],
        pipeline=params["candle_pipeline"],
        batch_length=params["batch_length"],
        seed=params["seed"],
        strategy_sources=recorded_snapshots(backtest["strategy_sources"]),
        strategies_root=str(StrategyWorkspace(ctx.data_dir).root),
    )
