"""The `backtest` job, run in a worker process: stored candles + recorded strategy sources → engine result.

`params` are the ones `request.resolve_backtest` recorded with the session. The returned dict is
the engine's result (see `candlewire.engine.backtest.run_backtest`) without its log list (the log
lines are the session's log events) and with `strategy_sources`; it becomes the session's result.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np
import sqlalchemy as sa

from candlewire.backtests.loader import recorded_snapshots, snapshot_loader
from candlewire.backtests.request import warm_up_minutes
from candlewire.engine.backtest import run_backtest
from candlewire.engine.timeframes import MINUTE_MS, TIMESTAMP
from candlewire.errors import FailedPrecondition
from candlewire.storage.candles import load_candles
from candlewire.storage.db import create_engine
from candlewire.strategies.workspace import StrategyWorkspace


class BacktestContext(Protocol):
    """The part of `candlewire.jobs.context.JobContext` a backtest uses."""

    database_url: str
    data_dir: Any

    def progress(self, done: int, total: int, current_time_ms: int | None = None) -> None: ...
    def log(self, text: str, level: str = "info") -> None: ...


def load_inputs(params: dict[str, Any], ctx: BacktestContext):
    """What a job needs to rerun a recorded backtest: its candles, warm-up candles, and a loader of
    its strategies from the source snapshot taken when it was started."""
    engine = create_engine(ctx.database_url)
    try:
        candles, warm_up = load_markets(engine, params)
    finally:
        engine.dispose()
    load = snapshot_loader(recorded_snapshots(params["strategy_sources"]), StrategyWorkspace(ctx.data_dir).root)
    return candles, warm_up, load


def run(params: dict[str, Any], ctx: BacktestContext) -> dict[str, Any]:
    candles, warm_up, load = load_inputs(params, ctx)
    routes = [{**route, "strategy": strategy_class(load, route)} for route in params["routes"]]
    result = run_backtest(
        engine_config(params),
        routes,
        params["data_routes"],
        candles,
        warm_up,
        [route_hyperparameters(route["strategy"], params["hyperparameters"]) for route in routes],
        on_progress=ctx.progress,
        # Log events carry the wall-clock time they were sent; the simulated time is what explains them.
        on_log=lambda level, text, time_ms: ctx.log(f"[{_simulated(time_ms)}] {text}", level),
        generate_charts=params["options"]["export_charts"],
    )
    del result["logs"]
    if params["options"]["benchmark"]:
        for curve in result["benchmark"]:
            curve["name"] = f"{params['routes'][curve['route']]['symbol']} buy and hold"
    else:
        result["benchmark"] = []
    result["charts"] = [_finite_chart(chart) for chart in result["charts"]]
    result["strategy_sources"] = params["strategy_sources"]
    return result


def engine_config(params: dict[str, Any]) -> dict[str, Any]:
    """`run_backtest`'s config: the traded exchange's settings plus warm-up and logging switches."""
    exchange = params["exchange"]
    return {
        "exchange": exchange["exchange"],
        "type": exchange["type"],
        "fee": exchange["fee"],
        "futures_leverage": exchange["futures_leverage"],
        "futures_leverage_mode": exchange["futures_leverage_mode"],
        "starting_balance": exchange["starting_balance"],
        "warm_up_candles": params["warm_up_candles"],
        "logging": params["logging"],
    }


def load_markets(engine: sa.Engine, params: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Trading and warm-up 1m candles of every market, keyed `exchange-symbol` as the engine expects.

    The engine walks all markets minute by minute together, so a missing minute is an error here
    rather than a silently shifted run."""
    start_ms, finish_ms = params["start_ms"], params["finish_ms"]
    warm_from = start_ms - warm_up_minutes(params) * MINUTE_MS
    candles: dict[str, np.ndarray] = {}
    warm_up: dict[str, np.ndarray] = {}
    for route in [*params["routes"], *params["data_routes"]]:
        key = f"{route['exchange']}-{route['symbol']}"
        if key in candles:
            continue
        rows = load_candles(engine, route["exchange"], route["symbol"], warm_from, finish_ms - 1)
        split = int(np.searchsorted(rows[:, TIMESTAMP], start_ms))
        warm_up[key], candles[key] = rows[:split], rows[split:]
        for part, begin, end in ((warm_up[key], warm_from, start_ms), (candles[key], start_ms, finish_ms)):
            expected = (end - begin) // MINUTE_MS
            if len(part) != expected:
                raise FailedPrecondition(
                    f"{route['symbol']} on {route['exchange']}: {expected - len(part)} of {expected} minutes between "
                    f"{_simulated(begin)} and {_simulated(end)} are missing; import them (or fill the gaps) and run again"
                )
    return candles, warm_up


def strategy_class(load, route: dict[str, Any]) -> type:
    strategy = load(route["strategy"])
    if not route.get("dna"):
        return strategy
    # A route's DNA (chosen by an optimization) is what the strategy's own dna() would return;
    # keeping the module lets error locations still point into the strategy's source.
    return type(strategy.__name__, (strategy,), {"dna": lambda self, dna=route["dna"]: dna, "__module__": strategy.__module__})


def route_hyperparameters(strategy: type, overrides: dict[str, Any]) -> dict[str, Any] | None:
    """The strategy's declared defaults with the request's overrides of the names it declares;
    None (defaults or DNA, decided by the engine) when no override concerns it."""
    if not overrides:
        return None
    declared = {spec["name"]: spec.get("default") for spec in strategy().hyperparameters() or []}
    relevant = {name: value for name, value in overrides.items() if name in declared}
    return {**declared, **relevant} if relevant else None


def _finite_chart(chart: dict[str, Any]) -> dict[str, Any]:
    """Indicator series start with NaN; JSON columns (PostgreSQL) refuse NaN, and a chart skips the points anyway."""
    def finite(series: dict[str, Any]) -> dict[str, Any]:
        points = [(t, v) for t, v in zip(series["timestamps_ms"], series["values"]) if math.isfinite(v)]
        return {**series, "timestamps_ms": [t for t, _ in points], "values": [v for _, v in points]}

    return {
        **chart,
        "lines": [finite(line) for line in chart["lines"]],
        "extra_charts": [finite(line) for line in chart["extra_charts"]],
        "horizontal_lines": [line for line in chart["horizontal_lines"] if math.isfinite(line["value"])],
    }


def _simulated(time_ms: int | None) -> str:
    if time_ms is None:
        return "start"
    return datetime.fromtimestamp(time_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")
