"""Turning a Monte Carlo request into the params its session records, or an InvalidArgument
naming every bad field (nothing is stored then).

The request (plain dict mirroring MonteCarloParams) names its source — `backtest_id`, a
backtest that succeeded, or `backtest`, a backtest request resolved like BacktestService's —
and `mode`, `candle_pipeline`, `batch_length`, `scenarios`, `seed`, `cpu_cores`. The params:

    mode                 "trades" or "candles"
    source_backtest_id   the finished backtest whose result is the original run, or ""
    backtest             the backtest params that ran (the source's) or will run first
    candle_pipeline      [{"gaussian_noise": {...}} | {"returns_resampling": {}} |
                          {"moving_block_bootstrap": {"block_length": n}}] (candles mode)
    batch_length, scenarios, seed, cpu_cores   as requested
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from candlewire.backtests.request import resolve_backtest
from candlewire.errors import InvalidArgument, NotFound, require
from candlewire.montecarlo.candles import STEP_KINDS
from candlewire.storage import sessions as session_store
from candlewire.strategies.workspace import StrategyWorkspace

MODES = ("trades", "candles")
MAX_SCENARIOS = 100_000
MIN_TRADES = 2


def resolve_monte_carlo(
    request: dict[str, Any], config: dict[str, Any], workspace: StrategyWorkspace, engine: sa.Engine
) -> dict[str, Any]:
    violations: dict[str, str] = {}
    mode = request.get("mode")
    if mode not in MODES:
        violations["mode"] = "must be MONTE_CARLO_MODE_TRADES or MONTE_CARLO_MODE_CANDLES"
    scenarios = int(request.get("scenarios") or 0)
    if not 1 <= scenarios <= MAX_SCENARIOS:
        violations["scenarios"] = f"must be between 1 and {MAX_SCENARIOS}"
    for field in ("seed", "cpu_cores", "batch_length"):
        if int(request.get(field) or 0) < 0:
            violations[field] = "must not be negative"
    pipeline = request.get("candle_pipeline") or []
    if mode == "candles":
        _check_pipeline(pipeline, violations)
    elif mode == "trades" and pipeline:
        violations["candle_pipeline"] = "only CANDLES mode transforms candles; leave it empty in TRADES mode"
    backtest_id = request.get("backtest_id") or ""
    backtest = _source(backtest_id, request.get("backtest"), mode, config, workspace, engine, violations)
    require(violations, "invalid Monte Carlo request")
    return {
        "mode": mode,
        "source_backtest_id": backtest_id,
        "backtest": backtest,
        "candle_pipeline": pipeline,
        "batch_length": int(request.get("batch_length") or 0),
        "scenarios": scenarios,
        "seed": int(request.get("seed") or 0),
        "cpu_cores": int(request.get("cpu_cores") or 0),
    }


def _check_pipeline(pipeline: list[dict[str, Any]], violations: dict[str, str]) -> None:
    if not pipeline:
        violations["candle_pipeline"] = "CANDLES mode needs at least one step"
    for i, step in enumerate(pipeline):
        field = f"candle_pipeline[{i}]"
        if len(step) != 1 or next(iter(step)) not in STEP_KINDS:
            violations[field] = f"set exactly one of {', '.join(STEP_KINDS)}"
            continue
        (kind, options), = step.items()
        if kind == "gaussian_noise":
            sigmas = {name: float(options.get(name, 0.0)) for name in ("close_sigma", "wick_sigma")}
            for name, sigma in sigmas.items():
                if not 0 <= sigma < 1:
                    violations[f"{field}.gaussian_noise.{name}"] = "must be between 0 and 1 (a relative standard deviation)"
            if not any(sigmas.values()):
                violations[f"{field}.gaussian_noise"] = "set close_sigma or wick_sigma above 0"
        elif kind == "moving_block_bootstrap" and int(options.get("block_length", 0)) < 1:
            violations[f"{field}.moving_block_bootstrap.block_length"] = "must be at least 1"


def _source(
    backtest_id: str, backtest_request: dict[str, Any] | None, mode: str | None, config: dict[str, Any],
    workspace: StrategyWorkspace, engine: sa.Engine, violations: dict[str, str],
) -> dict[str, Any] | None:
    if backtest_id and backtest_request is not None:
        violations["source"] = "set backtest_id or backtest, not both"
        return None
    if backtest_request is not None:
        try:
            return resolve_backtest(backtest_request, config, workspace, engine)
        except InvalidArgument as error:
            violations.update({f"backtest.{field}": reason for field, reason in error.violations.items()})
            return None
    if not backtest_id:
        violations["source"] = "set backtest_id (a finished backtest) or backtest (routes and period)"
        return None
    try:
        record = session_store.get_session(engine, backtest_id)
    except NotFound:
        violations["backtest_id"] = f"no backtest {backtest_id!r}"
        return None
    if record.kind != "backtest":
        violations["backtest_id"] = f"session {backtest_id} is a {record.kind.replace('_', ' ')}, not a backtest"
    elif record.status != "succeeded" or not record.result:
        violations["backtest_id"] = f"backtest {backtest_id} is {record.status}; only a backtest that succeeded can be the source"
    elif mode == "trades" and len(record.result.get("trades") or ()) < MIN_TRADES:
        violations["backtest_id"] = f"backtest {backtest_id} closed fewer than {MIN_TRADES} trades: there is no order to shuffle"
    else:
        return record.params
    return None
