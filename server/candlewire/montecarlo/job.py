"""The `monte_carlo` job, run in a worker process.

The original run is the source backtest's stored result, or the backtest run here first (when
the request gave routes and a period). Scenarios stream as partial results
{"scenario": {"index", "metrics", "equity_curve"}}; the final result is

    mode, scenarios_completed
    metrics                  one `statistics.metric_distributions` entry per metric
    original_equity_curve    {timestamps_ms, values}, at most CURVE_POINTS points
    curve_timestamps_ms      shared by every scenario curve
    scenario_curves          one list of values per scenario, in scenario order
"""

from __future__ import annotations

from typing import Any

import numpy as np

from candlewire.backtests import job as backtest_job
from candlewire.backtests.job import _route_hyperparameters as route_hyperparameters
from candlewire.backtests.job import _strategy_class as strategy_class
from candlewire.backtests.loader import snapshot_loader
from candlewire.engine.backtest import DEFAULT_LOGGING
from candlewire.errors import FailedPrecondition
from candlewire.jobs.context import JobContext
from candlewire.montecarlo.request import MIN_TRADES
from candlewire.montecarlo.scenarios import CANDLE_METRICS, CandleScenarios, run_scenarios
from candlewire.montecarlo.statistics import downsample_indices, metric_distributions
from candlewire.montecarlo.trades import TRADE_METRICS, TradeShuffle
from candlewire.storage import sessions as session_store
from candlewire.storage.db import create_engine
from candlewire.strategies.workspace import StrategyWorkspace

CURVE_POINTS = 500
# Points of all scenario curves together: many scenarios get coarser curves, so a result stays small.
CURVE_POINTS_BUDGET = 250_000
MIN_CURVE_POINTS = 20


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    original = _original_result(params, ctx)
    if params["mode"] == "trades":
        return _trades_mode(params, original, ctx)
    return _candles_mode(params, original, ctx)


def scenario_curve_points(scenarios: int) -> int:
    return min(CURVE_POINTS, max(MIN_CURVE_POINTS, CURVE_POINTS_BUDGET // scenarios))


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
        if not record.result:
            raise FailedPrecondition(f"backtest {record.id} has no result any more")
        return record.result
    ctx.log("running the original backtest")
    quiet = {**params["backtest"], "logging": dict.fromkeys(DEFAULT_LOGGING, False)}
    result = backtest_job.run(quiet, _Silenced(ctx))
    if params["mode"] == "trades" and len(result["trades"]) < MIN_TRADES:
        raise FailedPrecondition(
            f"the backtest closed {len(result['trades'])} trade(s): TRADES mode needs at least {MIN_TRADES} to shuffle"
        )
    return result


def _scenario_event(ctx: JobContext, index: int, metrics: dict[str, float], timestamps: list[int], values: list[float]) -> None:
    ctx.result({"scenario": {"index": index, "metrics": metrics, "equity_curve": {"timestamps_ms": timestamps, "values": values}}})


def _trades_mode(params: dict[str, Any], original: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    count = params["scenarios"]

    def shuffle(points: int) -> TradeShuffle:
        return TradeShuffle(original["trades"], original["starting_balance"], original["start_ms"], original["finish_ms"],
                            original["equity_curve"]["timestamps_ms"], points)

    in_original_order = shuffle(CURVE_POINTS)
    original_metrics, original_curve = in_original_order.original()
    scenarios = shuffle(scenario_curve_points(count))
    timestamps = scenarios.curve_timestamps_ms.tolist()
    metric_rows, curves = [], []
    ctx.log(f"shuffling {len(original['trades'])} trades into {count} scenarios")
    for chunk in scenarios.scenarios(count, params["seed"]):
        for offset, (row, curve) in enumerate(zip(chunk.metrics.tolist(), chunk.curves.tolist())):
            _scenario_event(ctx, chunk.first_index + offset, dict(zip(TRADE_METRICS, row)), timestamps, curve)
            curves.append(curve)
        metric_rows.append(chunk.metrics)
        ctx.progress(chunk.first_index + len(chunk.metrics), count)
    return {
        "mode": "trades",
        "scenarios_completed": count,
        "metrics": metric_distributions(list(TRADE_METRICS), original_metrics, np.concatenate(metric_rows), "the order of trades"),
        "original_equity_curve": {"timestamps_ms": in_original_order.curve_timestamps_ms.tolist(), "values": original_curve.tolist()},
        "curve_timestamps_ms": timestamps,
        "scenario_curves": curves,
    }


def _candles_mode(params: dict[str, Any], original: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    backtest, count = params["backtest"], params["scenarios"]
    engine = create_engine(ctx.database_url)
    try:
        candles, warm_up = backtest_job.load_markets(engine, backtest)
    finally:
        engine.dispose()
    sources = {entry["name"]: entry["source"] for entry in backtest["strategy_sources"]}
    root = StrategyWorkspace(ctx.data_dir).root
    load = snapshot_loader(sources, root)
    hyperparameters = [
        route_hyperparameters(strategy_class(load, route), backtest["hyperparameters"]) for route in backtest["routes"]
    ]
    curve = original["equity_curve"]
    original_columns = downsample_indices(len(curve["timestamps_ms"]), CURVE_POINTS)
    columns = downsample_indices(len(curve["timestamps_ms"]), scenario_curve_points(count))
    timestamps = np.asarray(curve["timestamps_ms"])[columns].tolist()
    setup = CandleScenarios(
        config=backtest_job.engine_config(backtest),
        routes=backtest["routes"],
        data_routes=backtest["data_routes"],
        candles=candles,
        warm_up=warm_up,
        hyperparameters=hyperparameters,
        pipeline=params["candle_pipeline"],
        batch_length=params["batch_length"],
        seed=params["seed"],
        curve_columns=columns,
        strategy_sources=sources,
        strategies_root=str(root),
    )
    summaries: dict[int, dict[str, Any]] = {}
    ctx.log(f"rerunning the backtest on {count} transformed candle sets")
    for summary in run_scenarios(setup, range(count), params["cpu_cores"]):
        summaries[summary["index"]] = summary
        _scenario_event(ctx, summary["index"], summary["metrics"], timestamps, summary["curve"])
        ctx.progress(len(summaries), count)
    ordered = [summaries[index] for index in range(count)]
    samples = np.array([[summary["metrics"][name] for name in CANDLE_METRICS] for summary in ordered])
    original_metrics = np.array([original["metrics"][name] for name in CANDLE_METRICS], dtype=np.float64)
    return {
        "mode": "candles",
        "scenarios_completed": count,
        "metrics": metric_distributions(list(CANDLE_METRICS), original_metrics, samples, "small changes to the candles"),
        "original_equity_curve": {
            "timestamps_ms": np.asarray(curve["timestamps_ms"])[original_columns].tolist(),
            "values": np.asarray(curve["values"])[original_columns].tolist(),
        },
        "curve_timestamps_ms": timestamps,
        "scenario_curves": [summary["curve"] for summary in ordered],
    }
